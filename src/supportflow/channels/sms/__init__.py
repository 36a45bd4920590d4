"""SMS through Twilio: keywords (STOP/START/HELP), segment counting and reply shaping, webhook
signatures, the REST sender, and a local stand-in for Twilio's REST API (`fake_twilio`).

Pure helpers and adapters only: no Temporal, no database. The webhook router, the opt-out
record and the sending activity use these.
"""
