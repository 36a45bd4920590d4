"""Who a customer is: signed identity tokens from the store's login, tenant identity secrets,
and one-time codes sent to the email on an account. A typed email only *identifies*; these
*authenticate* (DESIGN §4)."""
