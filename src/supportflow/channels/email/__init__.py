"""Email, the pure parts: MIME to text (parse.py), mail that must get no answer
(loops.py), and the providers' inbound webhooks (mailgun.py, sendgrid.py). No Temporal,
no database: plain functions the SMTP server and the API routers call."""
