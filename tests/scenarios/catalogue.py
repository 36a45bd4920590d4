"""The scenarios: real users and orders from the seed, each order mentioned by one scenario
only (the suite's store is shared by all of them)."""

from __future__ import annotations

from tests.scenarios.model import (
    Scenario,
    cancelled,
    exchange_requested,
    expect,
    gift_card,
    items_changed,
    repaid,
    return_requested,
    say,
    say_code,
    ships_to,
    user_address,
)

YES = say("yes, go ahead")
NOTHING = expect()
NOT_CHANGED = "nothing was changed"
HANDOFF = "passing you to a member of our support team"

CANCEL = [
    Scenario(
        "cancel_credit_card_no_longer_needed",
        "cancel",
        "aarav.brown3708@example.com",
        (
            say("I want to cancel my order #W5065081", "may I ask why"),
            say(
                "I no longer need it",
                "cancel order #W5065081",
                "no longer needed",
                "$2,502.04 to your Mastercard card ending in 4249 (in 5-7 business days)",
                "yes or no",
            ),
            say("yes, please cancel it", "order #W5065081 is cancelled", "5-7 business days"),
        ),
        ("#W5065081",),
        expect(cancelled("#W5065081", "no longer needed", "credit_card_3627996", 2502.04)),
    ),
    Scenario(
        "cancel_paypal_ordered_by_mistake",
        "cancel",
        "fatima.anderson1447@example.com",
        (
            say(
                "I ordered #W2974929 by mistake, please cancel it",
                "ordered by mistake",
                "$182.03 to your PayPal account (in 5-7 business days)",
            ),
            say("yes", "order #W2974929 is cancelled", "5-7 business days"),
        ),
        ("#W2974929",),
        expect(cancelled("#W2974929", "ordered by mistake", "paypal_7916550", 182.03)),
    ),
    Scenario(
        "cancel_gift_card_credited_at_once",
        "cancel",
        "olivia.lopez8783@example.com",
        (
            say("Please cancel order #W8955613", "may I ask why"),
            say(
                "I don't need it anymore",
                "$585.97 to your gift card (at once)",
                "A gift card refund arrives at once",
            ),
            say("yes", "order #W8955613 is cancelled", "at once"),
        ),
        ("#W8955613",),
        expect(
            cancelled("#W8955613", "no longer needed", "gift_card_6682391", 585.97),
            gift_card("gift_card_6682391", 585.97),
        ),
    ),
    Scenario(
        "cancel_declined_at_confirmation",
        "cancel",
        "mei.ahmed5231@example.com",
        (
            say("please cancel order #W2631563, I ordered it by mistake", "yes or no"),
            say("no, keep it", NOT_CHANGED),
        ),
        ("#W2631563",),
        NOTHING,
    ),
    Scenario(
        "cancel_customer_asks_for_a_human_instead",
        "cancel",
        "aarav.nguyen1293@example.com",
        (
            say("I want to cancel order #W2443586", "may I ask why"),
            say("I no longer need it", "yes or no"),
            say("can I talk to a real person please?", HANDOFF),
        ),
        ("#W2443586",),
        NOTHING,
    ),
    Scenario(
        "cancel_changed_mind_before_giving_a_reason",
        "cancel",
        "liam.kovacs5432@example.com",
        (
            say("I want to cancel order #W1547606", "may I ask why"),
            say("hmm, actually never mind, I'll keep it", NOT_CHANGED),
        ),
        ("#W1547606",),
        NOTHING,
    ),
    Scenario(
        "cancel_wrong_order_id_then_the_right_one",
        "cancel",
        "isabella.sanchez6218@example.com",
        (
            say("I want to cancel order #W0000000", "couldn't find order #W0000000"),
            say("sorry, it's #W4386313", "may I ask why"),
            say("I ordered it by mistake", "$519.07 to your PayPal account"),
            YES,
        ),
        ("#W0000000", "#W4386313"),
        expect(cancelled("#W4386313", "ordered by mistake", "paypal_8516781", 519.07)),
    ),
    Scenario(
        "cancel_refused_processed_order",
        "cancel",
        "james.li4495@example.com",
        (
            say(
                "cancel order #W2611340 please, no longer needed",
                "can't be cancelled",
                "processed and on its way",
            ),
            say("yes"),
        ),
        ("#W2611340",),
        NOTHING,
    ),
    Scenario(
        "cancel_refused_delivered_order_offers_a_return",
        "cancel",
        "ava.moore6020@example.com",
        (
            say(
                "I want to cancel order #W4817420, I ordered it by mistake",
                "can't be cancelled",
                "I can help you return items from it instead",
            ),
        ),
        ("#W4817420",),
        NOTHING,
    ),
    Scenario(
        "cancel_refused_already_cancelled_order",
        "cancel",
        "amelia.silva2111@example.com",
        (say("I want to cancel my order #W3220387", "can't be cancelled", "it is cancelled"),),
        ("#W3220387",),
        NOTHING,
    ),
    Scenario(
        "cancel_refused_another_customers_order",
        "cancel",
        "ava.nguyen1851@example.com",
        (
            say(
                "I want to cancel order #W5270061, I no longer need it",
                "couldn't find order #W5270061",
            ),
            say("yes"),
        ),
        # #W5270061 is ivan.khan6479's; #W8732376 is ava's own and must stay as it is too.
        ("#W5270061", "#W8732376"),
        NOTHING,
    ),
]

# Anonymous visitors who prove who they are with a one-time code mailed to the email they
# type (no token): the agent answers alike for known and unknown emails, and a request made
# before the code goes on once it is right.
CODE_SENT = "a 6-digit code is on its way"
IDENTIFY = [
    Scenario(
        "verify_by_emailed_code_then_cancel",
        "cancel",
        "olivia.silva3776@example.com",
        (
            say("I want to cancel order #W6940125", "email address on your account", "code"),
            say(
                "It's olivia.silva3776@example.com",
                f"If olivia.silva3776@example.com has an account with us, {CODE_SENT}",
            ),
            say_code("you're verified", "may I ask why"),
            say("I ordered it by mistake", "$103.98 to your PayPal account"),
            YES,
        ),
        ("#W6940125",),
        expect(cancelled("#W6940125", "ordered by mistake", "paypal_9379149", 103.98)),
        token=False,
    ),
    Scenario(
        "verify_by_emailed_code_first_then_change_address",
        "modify_address",
        "raj.lopez2997@example.com",
        (
            say("Hi, my email is raj.lopez2997@example.com", CODE_SENT),
            say_code("you're verified", "What can I do for you?"),
            say("I need to change the shipping address on order #W3502364", "new address"),
            say(
                "44 Elm Street, Apt 2, Portland, OR 97201",
                "ship order #W3502364 to 44 Elm Street, Apt 2, Portland, OR 97201, USA",
            ),
            YES,
        ),
        ("#W3502364",),
        expect(ships_to("#W3502364", "44 Elm Street", "Apt 2", "Portland", "OR", "97201")),
        token=False,
    ),
    Scenario(
        "verify_unknown_email_then_the_right_one",
        "cancel",
        "noah.hernandez4161@example.com",
        (
            say("I want to cancel order #W3897284", "email address on your account"),
            # The same answer as for an account's email: nobody learns which emails exist.
            say(
                "My email is noah.h@example.com",
                f"If noah.h@example.com has an account with us, {CODE_SENT}",
            ),
            say(
                "sorry, my email is noah.hernandez4161@example.com",
                f"If noah.hernandez4161@example.com has an account with us, {CODE_SENT}",
            ),
            say_code("may I ask why"),
            say("no longer needed", "$267.58 to your gift card (at once)"),
            say("yes", "order #W3897284 is cancelled"),
        ),
        ("#W3897284",),
        expect(
            cancelled("#W3897284", "no longer needed", "gift_card_3410768", 267.58),
            gift_card("gift_card_3410768", 267.58),
        ),
        token=False,
    ),
]

MODIFY_ADDRESS = [
    Scenario(
        "modify_address_of_pending_order",
        "modify_address",
        "ava.moore2450@example.com",
        (
            say("I need to change the shipping address on order #W8331214", "new address"),
            say(
                "123 Main Street, Apt 5, Springfield, IL 62704",
                "ship order #W8331214 to 123 Main Street, Apt 5, Springfield, IL 62704, USA",
                "instead of",
            ),
            say("yes", "order #W8331214 will ship to 123 Main Street"),
        ),
        ("#W8331214",),
        expect(ships_to("#W8331214", "123 Main Street", "Apt 5", "Springfield", "IL", "62704")),
    ),
    Scenario(
        "modify_address_without_apartment",
        "modify_address",
        "daiki.jackson9202@example.com",
        (
            say("I need to change the shipping address on order #W8306539", "new address"),
            say("742 Evergreen Terrace, Springfield, OR 97477", "742 Evergreen Terrace"),
            YES,
        ),
        ("#W8306539",),
        expect(ships_to("#W8306539", "742 Evergreen Terrace", "", "Springfield", "OR", "97477")),
    ),
    Scenario(
        "modify_address_declined",
        "modify_address",
        "ava.smith4465@example.com",
        (
            say("I need to change the shipping address on order #W8328622", "new address"),
            say("9 Birch Road, Boulder, CO 80301", "yes or no"),
            say("no", NOT_CHANGED),
        ),
        ("#W8328622",),
        NOTHING,
    ),
    Scenario(
        "modify_address_refused_processed_order",
        "modify_address",
        "mason.johansson9528@example.com",
        (
            say(
                "I need to change the shipping address on order #W9549057",
                "can't change its shipping address",
                "processed",
            ),
        ),
        ("#W9549057",),
        NOTHING,
    ),
]

MODIFY_PAYMENT = [
    Scenario(
        "modify_payment_credit_card_to_paypal",
        "modify_payment",
        "yusuf.gonzalez2399@example.com",
        (
            say(
                "I want to change the payment method for order #W2806889",
                "Which payment method",
                "PayPal",
            ),
            say(
                "use my PayPal",
                "charge $1,229.82 for order #W2806889 to your PayPal account",
                "refund your Mastercard card ending in 9928 in 5-7 business days",
            ),
            say("yes", "now paid with your PayPal account"),
        ),
        ("#W2806889",),
        expect(repaid("#W2806889", "paypal_3022415", "credit_card_7918119", 1229.82)),
    ),
    Scenario(
        "modify_payment_to_gift_card_with_enough_balance",
        "modify_payment",
        "omar.kim8981@example.com",
        (
            say(
                "Can I pay for order #W1080318 with my gift card instead?",
                "charge $53.43 for order #W1080318 to your gift card",
            ),
            say("yes", "now paid with your gift card"),
        ),
        ("#W1080318",),
        expect(
            repaid("#W1080318", "gift_card_3749819", "credit_card_3577130", 53.43),
            gift_card("gift_card_3749819", -53.43),
        ),
    ),
    Scenario(
        "modify_payment_gift_card_without_enough_balance",
        "modify_payment",
        "isabella.lopez3271@example.com",
        (
            say(
                "Can I pay for order #W4923227 with my gift card instead?",
                "Your gift card has $60.00 left, which doesn't cover $321.18",
            ),
            say("then use PayPal instead", "to your PayPal account"),
            YES,
        ),
        ("#W4923227",),
        expect(repaid("#W4923227", "paypal_1621947", "credit_card_8554680", 321.18)),
    ),
    Scenario(
        "modify_payment_from_gift_card_refunds_it_at_once",
        "modify_payment",
        "lei.li8350@example.com",
        (
            say(
                "Switch the payment for order #W3414433 to my credit card please",
                "to your Visa card ending in 2697",
                "refund your gift card at once",
            ),
            YES,
        ),
        ("#W3414433",),
        expect(
            repaid("#W3414433", "credit_card_4466831", "gift_card_8049813", 3227.98),
            gift_card("gift_card_8049813", 3227.98),
        ),
    ),
    Scenario(
        "modify_payment_same_method_then_another",
        "modify_payment",
        "fatima.li1185@example.com",
        (
            say(
                "Can I pay for order #W8005719 with PayPal?",
                "already paid with your PayPal account",
            ),
            say("use the card ending in 1373", "to your Visa card ending in 1373"),
            YES,
        ),
        ("#W8005719",),
        expect(repaid("#W8005719", "credit_card_2713802", "paypal_6366157", 3053.6)),
    ),
]

MODIFY_ITEMS = [
    Scenario(
        "modify_items_other_variant_refunds_the_difference",
        "modify_items",
        "james.sanchez6979@example.com",
        (
            say(
                "I'd like to change the action camera in my order #W7464385 to the 4K "
                "waterproof one in black",
                "Action Camera (4K, yes, black) ($466.75)",
                "$35.53 goes back to your PayPal account, in 5-7 business days",
                "only be changed once",
            ),
            say("yes", "order #W7464385 now has"),
        ),
        ("#W7464385",),
        expect(
            items_changed(
                "#W7464385", "1810466394", "6700049080", ("refund", 35.53, "paypal_1261484")
            )
        ),
    ),
    Scenario(
        "modify_items_second_change_refused",
        "modify_items",
        "yusuf.hernandez6086@example.com",
        (
            say(
                "I want to change the sunglasses in order #W2033238 to green lenses with a "
                "plastic frame",
                "$8.01 will be charged to your PayPal account",
            ),
            say("yes", "order #W2033238 now has"),
            say(
                "I'd like to change the sunglasses in my order #W2033238 once more",
                "only be changed once",
            ),
            say("brown lenses with a plastic frame please"),
        ),
        ("#W2033238",),
        expect(
            items_changed(
                "#W2033238", "9045948550", "4548300368", ("payment", 8.01, "paypal_9426036")
            )
        ),
    ),
    Scenario(
        "modify_items_unavailable_variant_then_available",
        "modify_items",
        "sofia.hernandez3039@example.com",
        (
            say(
                "I want to change the grill in order #W3561391 to an electric one",
                "out of stock",
                "charcoal",
            ),
            say("the charcoal one then", "$132.74 goes back to your Visa card ending in 7312"),
            YES,
        ),
        ("#W3561391",),
        expect(
            items_changed(
                "#W3561391",
                "5946177616",
                "5105441284",
                ("refund", 132.74, "credit_card_7901829"),
            )
        ),
    ),
    Scenario(
        "modify_items_refused_another_product",
        "modify_items",
        "mason.lopez8921@example.com",
        (
            say(
                "I want to change the electric kettle in my order #W7752859 to a coffee maker",
                "only swap an item for another version of the same product",
            ),
            say("oh, never mind then", NOT_CHANGED),
        ),
        ("#W7752859",),
        NOTHING,
    ),
    Scenario(
        "modify_items_gift_card_without_enough_balance",
        "modify_items",
        "fatima.li2845@example.com",
        (
            say(
                "I'd like to change the action camera in my order #W5267498 to the 5K one "
                "that is not waterproof",
                "Your gift card has $47.00 left, which doesn't cover $56.91",
            ),
            say("ok, then the silver one instead", "$14.75 will be charged to your gift card"),
            YES,
        ),
        ("#W5267498",),
        expect(
            items_changed(
                "#W5267498", "6700049080", "6117189161", ("payment", 14.75, "gift_card_4220746")
            ),
            gift_card("gift_card_4220746", -14.75),
        ),
    ),
    Scenario(
        "modify_items_cheaper_variant_credits_gift_card",
        "modify_items",
        "liam.lopez8056@example.com",
        (
            say(
                "I'd like to change the pet bed in order #W2000719 to the large grey polyester one",
                "$9.54 goes back to your gift card, at once",
            ),
            YES,
        ),
        ("#W2000719",),
        expect(
            items_changed(
                "#W2000719", "4537595158", "7917269097", ("refund", 9.54, "gift_card_8483518")
            ),
            gift_card("gift_card_8483518", 9.54),
        ),
    ),
    Scenario(
        "modify_items_refused_processed_order",
        "modify_items",
        "raj.li3320@example.com",
        (
            say(
                "I want to change an item in my order #W8935389",
                "can't change its items",
                "processed",
            ),
        ),
        ("#W8935389",),
        NOTHING,
    ),
]

RETURN = [
    Scenario(
        "return_refund_to_original_card",
        "return",
        "ethan.li9526@example.com",
        (
            say(
                "I want to return the smart thermostat from order #W7309535",
                "start a return of Smart Thermostat",
                "$247.00 to your Mastercard card ending in 6522 (in 5-7 business days)",
            ),
            say("yes", "the return of Smart Thermostat"),
        ),
        ("#W7309535",),
        expect(return_requested("#W7309535", ["6243148452"], "credit_card_1397305")),
    ),
    Scenario(
        "return_refund_to_existing_gift_card",
        "return",
        "mohamed.smith3152@example.com",
        (
            say(
                "I want to return the smart watch from order #W7808613, please refund it to "
                "my gift card",
                "$370.38 to your gift card (at once)",
            ),
            YES,
        ),
        ("#W7808613",),
        # The refund happens when the items arrive: no balance change yet.
        expect(return_requested("#W7808613", ["9811090008"], "gift_card_9832062")),
    ),
    Scenario(
        "return_one_item_of_several",
        "return",
        "aarav.davis2239@example.com",
        (
            say(
                "I'd like to return the t-shirt from order #W6552785",
                "T-Shirt (red, XXL, cotton, crew neck)",
                "$46.85 to your PayPal account",
            ),
            YES,
        ),
        ("#W6552785",),
        expect(return_requested("#W6552785", ["9354168549"], "paypal_7357553")),
    ),
    Scenario(
        "return_refused_to_another_method_then_original",
        "return",
        "sofia.li7352@example.com",
        (
            say("I want to return the digital camera from order #W4689314", "yes or no"),
            say(
                "please refund it to my PayPal",
                "only be refunded to the original payment method or to a gift card",
            ),
            say(
                "ok, to the card ending in 8484 then",
                "$2,895.55 to your Mastercard card ending in 8484",
            ),
            YES,
        ),
        ("#W4689314",),
        expect(return_requested("#W4689314", ["5996159312"], "credit_card_8105988")),
    ),
    Scenario(
        "return_refused_pending_order_offers_cancel",
        "return",
        "evelyn.hernandez3060@example.com",
        (
            say(
                "I'd like to return order #W3482034",
                "only delivered orders can be returned",
                "I can cancel it instead",
            ),
        ),
        ("#W3482034",),
        NOTHING,
    ),
    Scenario(
        "return_customer_asks_for_a_human",
        "return",
        "chen.silva2698@example.com",
        (
            say("I want to return the jigsaw puzzle from order #W2598834", "yes or no"),
            say("Actually I'd like to speak to a human", HANDOFF),
        ),
        ("#W2598834",),
        NOTHING,
    ),
]

EXCHANGE = [
    Scenario(
        "exchange_for_dearer_variant",
        "exchange",
        "evelyn.gonzalez2110@example.com",
        (
            say(
                "I'd like to exchange the notebook from order #W8341134 for the hard cover version",
                "Notebook (A4, hard cover) ($32.29)",
                "$3.01 will be charged to your PayPal account",
            ),
            say("yes", "the exchange for order #W8341134 is started"),
        ),
        ("#W8341134",),
        expect(
            exchange_requested("#W8341134", ["7579176349"], ["1199058591"], "paypal_4191414", 3.01)
        ),
    ),
    Scenario(
        "exchange_for_cheaper_variant",
        "exchange",
        "yara.ito7353@example.com",
        (
            say(
                "I want to exchange the hiking boots from order #W1304208 for size 12 in leather",
                "$17.32 goes back to your PayPal account",
            ),
            YES,
        ),
        ("#W1304208",),
        expect(
            exchange_requested(
                "#W1304208", ["1615379700"], ["8277474082"], "paypal_1679017", -17.32
            )
        ),
    ),
    Scenario(
        "exchange_unavailable_variant_then_available",
        "exchange",
        "harper.li3262@example.com",
        (
            say(
                "I want to exchange the tablet from order #W9495141 for the 8-inch 64GB black one",
                "out of stock",
            ),
            say(
                "then the 10-inch black one please",
                "$35.75 will be charged to your gift card",
            ),
            YES,
        ),
        ("#W9495141",),
        # The difference is settled when the exchange is processed: the balance stays.
        expect(
            exchange_requested(
                "#W9495141", ["6501071631"], ["2235648106"], "gift_card_8862145", 35.75
            )
        ),
    ),
    Scenario(
        "exchange_another_product_refused_then_same_product",
        "exchange",
        "olivia.davis4495@example.com",
        (
            say(
                "Can I exchange the jigsaw puzzle from order #W7623533 for a skateboard?",
                "only swap an item for another version of the same product",
            ),
            say(
                "then the 500 piece art puzzle, intermediate difficulty",
                "$1.90 goes back to your PayPal account",
            ),
            YES,
        ),
        ("#W7623533",),
        expect(
            exchange_requested("#W7623533", ["4772738468"], ["4068787148"], "paypal_8673863", -1.9)
        ),
    ),
    Scenario(
        "exchange_declined",
        "exchange",
        "lei.hernandez7247@example.com",
        (
            say(
                "I want to exchange my cycling helmet from order #W2982823 for size S in white",
                "yes or no",
            ),
            say("no thanks", NOT_CHANGED),
        ),
        ("#W2982823",),
        NOTHING,
    ),
    Scenario(
        "exchange_refused_processed_order",
        "exchange",
        "james.kovacs7629@example.com",
        (
            say(
                "I want to exchange the pet bed from order #W5362037",
                "only delivered orders can be exchanged",
            ),
        ),
        ("#W5362037",),
        NOTHING,
    ),
]

USER_ADDRESS = [
    Scenario(
        "user_address_updated",
        "user_address",
        "harper.thomas1454@example.com",
        (
            say("I'd like to change the address on my profile", "for your account"),
            say(
                "55 Ocean Drive, Unit 3, Miami, FL 33139",
                "change your default address to 55 Ocean Drive, Unit 3, Miami, FL 33139, USA",
            ),
            say("yes", "your default address is now 55 Ocean Drive"),
        ),
        # Orders already placed keep their address.
        ("#W7425646",),
        expect(user_address("55 Ocean Drive", "Unit 3", "Miami", "FL", "33139")),
    ),
    Scenario(
        "user_address_declined",
        "user_address",
        "yusuf.taylor6118@example.com",
        (
            say("I'd like to change the address on my profile", "for your account"),
            say("8 Pine Court, Reno, NV 89501", "yes or no"),
            say("no, leave it", NOT_CHANGED),
        ),
        (),
        NOTHING,
    ),
]

INFO = [
    Scenario(
        "refund_status_gift_card_refund",
        "refund_status",
        "anya.garcia2061@example.com",
        (
            say(
                "What's the status of my refund for #W4140680?",
                "Refunded so far: $1,048.51 to your gift card (at once)",
            ),
        ),
        ("#W4140680",),
        NOTHING,
    ),
    Scenario(
        "refund_status_card_refund",
        "refund_status",
        "omar.khan3563@example.com",
        (
            say(
                "What's the status of my refund for #W8572370?",
                "$4,533.96 to your Mastercard card ending in 1374 (in 5-7 business days)",
            ),
        ),
        ("#W8572370",),
        NOTHING,
    ),
    Scenario(
        "refund_status_pending_order_has_none",
        "refund_status",
        "fatima.martin1284@example.com",
        (
            say(
                "What's the status of my refund for #W3376947?",
                "no refund on this order yet",
                "I can cancel it for a full refund",
            ),
        ),
        ("#W3376947",),
        NOTHING,
    ),
    Scenario(
        "order_status_with_tracking",
        "order_status",
        "daiki.silva5143@example.com",
        (
            say(
                "What is the status of order #W7554560?",
                "processed and on its way",
                "Tracking number",
            ),
        ),
        ("#W7554560",),
        NOTHING,
    ),
    Scenario(
        "order_tracking_number_of_delivered_order",
        "order_status",
        "amelia.wilson1598@example.com",
        (
            say(
                "Can you give me the tracking number for order #W9077205?",
                "is delivered",
                "882867966563",
            ),
        ),
        ("#W9077205",),
        NOTHING,
    ),
    Scenario(
        "order_status_refused_another_customers_order",
        "order_status",
        "james.kim1995@example.com",
        (say("What is the status of order #W3035044?", "couldn't find order #W3035044"),),
        # #W3035044 is ethan.moore4935's.
        ("#W3035044",),
        NOTHING,
    ),
]

SEVERAL = [
    Scenario(
        "several_cancel_then_change_another_orders_address",
        "several",
        "ivan.santos3158@example.com",
        (
            say("I want to cancel order #W8770097, I no longer need it", "$544.29"),
            say("yes", "order #W8770097 is cancelled"),
            say("I need to change the shipping address on order #W5183325", "new address"),
            say("20 Harbor Way, Suite 100, Seattle, WA 98101", "ship order #W5183325"),
            say("yes", "order #W5183325 will ship to 20 Harbor Way"),
        ),
        ("#W8770097", "#W5183325"),
        expect(
            cancelled("#W8770097", "no longer needed", "paypal_6151711", 544.29),
            ships_to("#W5183325", "20 Harbor Way", "Suite 100", "Seattle", "WA", "98101"),
        ),
    ),
    Scenario(
        "several_status_then_return",
        "several",
        "emma.nguyen8892@example.com",
        (
            say("What is the status of order #W9397272?", "processed and on its way"),
            say(
                "I'd like to return the pet bed from order #W3754544",
                "$204.09 to your PayPal account",
            ),
            YES,
        ),
        ("#W9397272", "#W3754544"),
        expect(return_requested("#W3754544", ["2405281423"], "paypal_2499655")),
    ),
    Scenario(
        "several_cancel_then_refund_status",
        "several",
        "evelyn.kovacs5369@example.com",
        (
            say("Please cancel order #W5694685, I ordered it by mistake", "$98.25"),
            say("yes", "order #W5694685 is cancelled"),
            say(
                "What's the status of my refund for #W5694685?",
                "Refunded so far: $98.25 to your PayPal account (in 5-7 business days)",
            ),
        ),
        ("#W5694685",),
        expect(cancelled("#W5694685", "ordered by mistake", "paypal_7732922", 98.25)),
    ),
    Scenario(
        "several_return_then_default_address",
        "several",
        "emma.smith3991@example.com",
        (
            say(
                "I want to return the digital camera from order #W5605613",
                "$2,909.87 to your gift card (at once)",
            ),
            YES,
            say("I'd like to change the address on my profile", "for your account"),
            say("31 River Road, Austin, TX 78701", "change your default address"),
            YES,
        ),
        ("#W5605613", "#W2417020"),
        expect(
            return_requested("#W5605613", ["7195021808"], "gift_card_8541487"),
            user_address("31 River Road", "", "Austin", "TX", "78701"),
        ),
    ),
    Scenario(
        "several_exchange_then_cancel_another",
        "several",
        "liam.thomas9081@example.com",
        (
            say(
                "I want to exchange the hiking boots from order #W8488728 for size 9 waterproof",
                "$3.13 will be charged to your PayPal account",
            ),
            YES,
            say("I also want to cancel order #W1654931", "may I ask why"),
            say("I ordered it by mistake", "$787.70 to your Visa card ending in 3194"),
            YES,
        ),
        ("#W8488728", "#W1654931"),
        expect(
            exchange_requested("#W8488728", ["5676696062"], ["8106223139"], "paypal_3650980", 3.13),
            cancelled("#W1654931", "ordered by mistake", "credit_card_3261838", 787.7),
        ),
    ),
    Scenario(
        "several_address_payment_then_refused_cancel",
        "several",
        "emma.ito3790@example.com",
        (
            say("I need to change the shipping address on order #W8664580", "new address"),
            say("77 Market Street, Philadelphia, PA 19106", "ship order #W8664580"),
            YES,
            say(
                "I want to change the payment method for order #W8664580",
                "Which payment method",
            ),
            say("use the card ending in 3660", "to your Visa card ending in 3660"),
            YES,
            say("and cancel order #W3780282, I no longer need it", "can't be cancelled"),
        ),
        ("#W8664580", "#W3780282"),
        expect(
            ships_to("#W8664580", "77 Market Street", "", "Philadelphia", "PA", "19106"),
            repaid("#W8664580", "credit_card_8058445", "paypal_9995021", 54.04),
        ),
    ),
]

MORE = [
    Scenario(
        "return_both_units_of_the_same_item",
        "return",
        "aarav.anderson9752@example.com",
        (
            say(
                "I want to return both tea kettles from order #W4316152",
                "$189.60 to your gift card (at once)",
            ),
            YES,
        ),
        ("#W4316152",),
        # The order holds two units of one variant; both go back, and the store is told so.
        expect(return_requested("#W4316152", ["7292993796", "7292993796"], "gift_card_7245904")),
    ),
    Scenario(
        "several_switch_from_cancel_to_address_change",
        "several",
        "mia.sanchez1556@example.com",
        (
            say("I want to cancel order #W4096800", "may I ask why"),
            say(
                "Actually, rather than cancelling, I'd like to change the shipping address",
                "new address for order #W4096800",
            ),
            say("5 Lake Shore Drive, Chicago, IL 60601", "ship order #W4096800"),
            YES,
        ),
        ("#W4096800",),
        expect(ships_to("#W4096800", "5 Lake Shore Drive", "", "Chicago", "IL", "60601")),
    ),
    Scenario(
        "several_item_change_then_address_then_refusals",
        "several",
        "emma.brown5032@example.com",
        (
            say(
                "I want to change the skateboard in order #W6460787 to the 28 inch one",
                "$16.07 goes back to your PayPal account",
            ),
            YES,
            # Address changes stay allowed after the one item change.
            say("I need to change the shipping address on order #W6460787", "new address"),
            say("18 Cherry Lane, Apt 7, Madison, WI 53703", "ship order #W6460787"),
            YES,
            say("I also want to cancel order #W6460787, I no longer need it", "can't be cancelled"),
        ),
        ("#W6460787",),
        expect(
            items_changed(
                "#W6460787", "3098764622", "4545791457", ("refund", 16.07, "paypal_9039769")
            ),
            ships_to("#W6460787", "18 Cherry Lane", "Apt 7", "Madison", "WI", "53703"),
        ),
    ),
    Scenario(
        "several_return_then_refund_status",
        "several",
        "chen.anderson4495@example.com",
        (
            say("I want to return the t-shirt from order #W5332101", "$52.88 to your gift card"),
            YES,
            say(
                "What's the status of my refund for #W5332101?",
                "issued once we receive the returned items",
            ),
        ),
        ("#W5332101",),
        expect(return_requested("#W5332101", ["1176194968"], "gift_card_3434432")),
    ),
    Scenario(
        "upset_customer_goes_to_a_person",
        "handoff",
        "harper.lee5642@example.com",
        (
            say(
                "This is ridiculous, I'm furious, nobody answers and my order #W8584917 is a mess",
                HANDOFF,
            ),
        ),
        ("#W8584917",),
        NOTHING,
    ),
]

SCENARIOS: list[Scenario] = [
    *CANCEL,
    *IDENTIFY,
    *MODIFY_ADDRESS,
    *MODIFY_PAYMENT,
    *MODIFY_ITEMS,
    *RETURN,
    *EXCHANGE,
    *USER_ADDRESS,
    *INFO,
    *SEVERAL,
    *MORE,
]
