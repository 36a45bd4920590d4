"""The operator console (issue 12 item 7): server-rendered pages under /console, one small
script and one stylesheet. The pages call the JSON API; permissions are the API's to check."""
