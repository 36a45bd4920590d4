// @ts-check
// The merchant's own system, reduced to an in-memory table: loyalty points by the store's
// customer id. `loyaltyBalance` is the custom action supportflow calls (as activity
// custom_action.loyalty_balance) when a verified customer asks about their points.

/** @type {Map<string, { points: number, tier: string }>} */
const members = new Map([
  ["cust_1001", { points: 1240, tier: "gold" }],
  ["cust_1002", { points: 80, tier: "bronze" }],
  // Customers of the demo store that `supportflow up` starts, to try the example there.
  ["noah_brown_6181", { points: 4271, tier: "platinum" }],
  ["ivan_santos_6635", { points: 315, tier: "silver" }],
  ["yara_sanchez_1902", { points: 1862, tier: "gold" }],
]);

/**
 * @param {import("@supportflow/sdk").CustomActionCall} call
 * @returns {import("@supportflow/sdk").CustomActionResult}
 */
function loyaltyBalance(call) {
  if (!call.customer_id) {
    return {
      ok: false,
      error: { code: "not_verified", message: "the customer is not verified" },
    };
  }
  const member = members.get(call.customer_id);
  if (member === undefined) {
    return { ok: false, error: { code: "not_a_member", message: "no loyalty account" } };
  }
  return { ok: true, data: { points: member.points, tier: member.tier } };
}

module.exports = { loyaltyBalance, members };
