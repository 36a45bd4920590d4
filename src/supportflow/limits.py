"""How big a customer's message may be: one number for the API, the workflow and the engines.

A leaf module (it imports nothing) so that every layer may import it, workflow code included.
"""

# A message's text, in UTF-8 bytes. The API answers 413 over it (``Settings.max_message_bytes``
# defaults to it, and a deployment may lower or raise that); the customer workflow refuses a
# longer text whatever the API allowed.
MAX_MESSAGE_BYTES = 16 * 1024

# The understanding engines cut a text at this many characters (code points) before reading
# it. A character is one to four bytes in UTF-8, so a text within MAX_MESSAGE_BYTES never has
# more characters than this, and the cut never bites on a message the workflow accepted: it
# only bounds the work done for callers that hand an engine any text (evaluation, simulator).
MAX_MESSAGE_CHARS = MAX_MESSAGE_BYTES
