"""Several requests in one message: split it into clauses, group the clauses into requests.

"Cancel #W1234567, I ordered it twice by mistake. Also change the address on #W7654321 to 12
Main St" holds two requests; the reason belongs to the first, the address to the second. Pure
text work (no I/O): the caller classifies the clauses (``Classify``) and builds each part's
understanding (``request_parts.py``).

Decisions (judgement calls, written here once):
- Spurious splits are worse than missed ones (the customer would be asked about something they
  did not ask), so a clause starts a request only with three kinds of evidence together: the
  model reads an in-scope request intent with confidence, the clause has the shape of a request
  (an imperative, "can you", "I want", a question, or an explicit "also"), and it names what the
  intent is about ("cancel", "address", "refund"...). Everything else - a situation ("I ordered
  it twice by mistake", "my order hasn't arrived"), a reason, a greeting, "thanks", an option
  list, a condition ("if it has shipped", "otherwise refund me") - is a detail of the request
  beside it: the one before, or the next one when it comes first.
- Clause boundaries are sentence ends, newlines, ';' and connectors that open a new request
  ("also", "and then", "plus", "another thing", "and can you", "and I want", "and <action
  verb>", ", <action verb>"). A bare "and" or a comma never splits: item lists ("the mug and
  the plate"), addresses and option lists ("clicky, no backlight") stay whole.
- Pairs that one procedure serves are one request: cancel + refund is a cancel (cancelling
  refunds), return + refund a return, a policy or fee question next to the action it is about
  is that action, a product question next to an exchange is the exchange, track + "when will
  it arrive" one status request, "change my order" beside the specific change that change,
  return then "send me a new one" an exchange. Consecutive requests of the same intent merge.
  A pair about two orders ("cancel #W1 ... where is my refund for #W2?") stays two.
- A leading yes/no or change of mind ("yes, and also ...", "Actually, don't cancel it. ...")
  is a request of its own, intent confirm/decline. A negated action ("don't cancel", "no need
  to return it anymore", "never mind the refund") is a decline, never that action. Later in a
  message such clauses are details ("..., don't send it to the old address").
- At most MAX_PARTS requests; more are merged into the last. Text over MAX_SPLIT_CHARS (a
  paste, not a chat message) is not split, and at most MAX_READ clauses are read by the model:
  the split must keep understanding within its latency budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from supportflow.understanding.entities import order_id_spans
from supportflow.understanding.part_orders import OTHER_ORDER

MAX_PARTS = 4
# Beyond these the rest of the text is one clause: bounds the work on pasted long text (each
# clause costs one model call).
MAX_CLAUSES = 10
# At most this many clauses are read by the model (the first candidates); the rest are details.
MAX_READ = 6
# Longer text is a paste (a log, a whole mail thread), not a chat message: read whole, as before.
MAX_SPLIT_CHARS = 4000
# What of a clause the model and the rules read: a request says what it wants in its first words.
MAX_CLAUSE_CHARS = 300
# A clause's reading must reach this to count as a request (the model's calibrated probability);
# less after an explicit "also", "another thing"..., which already says a request follows.
REQUEST_CONFIDENCE = 0.7
ANNOUNCED_CONFIDENCE = 0.5
# A yes/no or decline read by the rules below (not the model): they match only unambiguous forms.
RULE_ANSWER_CONFIDENCE = 0.9

CONFIRM, DECLINE = "confirm", "decline"
# Intents that are never a request of their own: small talk, the model's doubt, a complaint
# (the tone of the request beside it) and "I need help" (an opener).
NOT_REQUESTS = frozenset(
    [
        "greeting",
        "thanks",
        "out_of_scope",
        CONFIRM,
        DECLINE,
        "complaint",
        "contact_customer_service",
    ]
)

# One procedure serves both intents of a pair (unordered): the value is the request it is.
ONE_REQUEST: dict[frozenset[str], str] = {
    frozenset(pair): winner
    for pair, winner in [
        (("cancel_order", "get_refund"), "cancel_order"),
        (("cancel_order", "track_refund"), "cancel_order"),
        (("cancel_order", "check_cancellation_fee"), "cancel_order"),
        (("return_items", "get_refund"), "return_items"),
        (("return_items", "track_refund"), "return_items"),
        (("return_items", "check_refund_policy"), "return_items"),
        (("get_refund", "check_refund_policy"), "get_refund"),
        (("get_refund", "track_refund"), "get_refund"),
        (("exchange_items", "check_refund_policy"), "exchange_items"),
        (("exchange_items", "product_question"), "exchange_items"),
        (("modify_order_items", "product_question"), "modify_order_items"),
        (("place_order", "product_question"), "place_order"),
        (("track_order", "delivery_period"), "track_order"),
        (("change_order", "change_shipping_address"), "change_shipping_address"),
        (("change_order", "modify_order_items"), "modify_order_items"),
        (("change_order", "modify_order_payment"), "modify_order_payment"),
        (("change_shipping_address", "set_up_shipping_address"), "change_shipping_address"),
        (("modify_order_payment", "check_payment_methods"), "modify_order_payment"),
        (("modify_order_payment", "payment_issue"), "modify_order_payment"),
        (("payment_issue", "get_refund"), "get_refund"),
    ]
}

# Return, then "send me a new one / buy a bigger one": one exchange of the same thing.
_NEW_ONE = re.compile(r"\b(?:one|ones|replacement)\b", re.IGNORECASE)
# Stems with the slips people make typing them ("cancle", "retrun", "adress", "chnage").
_CANCEL = r"canc|cancle|cansel|cacnel|cnacel"
_RETURN = r"ret[ru]{1,2}n|retun|retrn|rteurn|retunr"
_REFUND = r"ref[ou]n?d|refnud|rfund|money back|reimburs|credit"
_ADDRESS = r"add?res+|adres|adress|addr"
_CHANGE = r"chang|chnag|chnge|cahnge|chage"
# What a request of each intent names; a clause read as that intent without any of these words
# is not trusted to be a new request (the model is sure of vague sentences too). Intents not
# listed have no such check.
_ABOUT: dict[str, str] = {
    "cancel_order": _CANCEL,
    "cancel_subscription": _CANCEL + r"|unsubscri|subscri|membership|stop",
    "pause_subscription": r"pause|subscri|skip",
    "return_items": _RETURN + r"|send (?:it |them |\w+ )?back|ship (?:it |them )?back",
    "exchange_items": r"exch|exhang|swap|replac|instead|size|colou?r|different|larger|smaller"
    r"|bigger",
    "get_refund": _REFUND,
    "track_refund": _REFUND,
    "track_order": r"where|track|status|arriv|deliver|ship|receiv|late|when|package|parcel|eta",
    "delivery_period": r"when|arriv|deliver|ship|long|days|eta|get here",
    "change_shipping_address": _ADDRESS + r"|ship (?:it |them )?to|deliver (?:it |them )?to|send "
    r"(?:it |them )?to",
    "set_up_shipping_address": _ADDRESS,
    "modify_order_payment": r"pay|card|paypal|visa|mastercard|amex|charge|billing",
    "check_payment_methods": r"pay|card|paypal|visa|mastercard|amex|apple pay|klarna",
    "payment_issue": r"pay|charge|card|declin|billed|bill",
    "modify_order_items": _CHANGE
    + r"|modif|swap|add|remove|size|colou?r|option|switch|instead|edit"
    r"|updat|variant",
    "change_order": _CHANGE + r"|modif|edit|updat|switch",
    "recover_password": r"pas+ ?wo?r?d|passwrod|log ?in|sign ?in|locked|reset",
    "edit_account": r"account|profile|e-?mail|phone|name|details|updat",
    "delete_account": r"delete|close|remove|account",
    "create_account": r"account|sign ?up|register",
    "switch_account": r"account|switch",
    "newsletter_subscription": r"newsletter|subscri|e-?mails|mailing",
    "get_invoice": r"invoice|receipt|bill",
    "check_invoice": r"invoice|receipt|bill",
    "check_refund_policy": r"polic|" + _REFUND + "|" + _RETURN,
    "check_cancellation_fee": r"fee|charge|cost|penalt|pay",
    "delivery_options": r"deliver|ship|express|option|pick ?up|courier",
    "place_order": r"order|buy|purchase",
    "contact_human_agent": r"human|person|agent|someone|somebody|representative|manager|call"
    r"|supervisor",
}
_ABOUT_RX = {k: re.compile(v, re.IGNORECASE) for k, v in _ABOUT.items()}

# Verbs that open a request when a clause starts with them (imperatives).
_VERBS = (
    r"cancel|return|refund|exchange|swap|change|update|modify|edit|switch|replace|track|check"
    r"|reset|unsubscribe|subscribe|delete|remove|add|send|ship|email|e-mail|give|tell|let|show"
    r"|help|fix|stop|pause|resume|close|create|correct|redirect|process|issue|find|look|put"
    r"|move|reroute|deliver|sign|book|arrange|get|make|restore|recover|unlock|confirm|upgrade"
    r"|downgrade"
)
# Verbs that open a new request after "and" or a comma: the unambiguous ones only ("and get",
# "and make" too often continue one request).
_SPLIT_VERBS = (
    r"cancel|return|refund|exchange|swap|change|update|modify|switch|replace|track|reset"
    r"|unsubscribe|delete|remove|send|ship|email|tell|let|fix|stop|pause|redirect|reroute"
    r"|process|issue|where|when|how|what"
)
# Words that begin a clause without changing what it asks.
_LEAD = re.compile(
    r"^(?:\W+|and\b|also\b|plus\b|then\b|so\b|oh\b|btw\b|by the way\b|another thing\b"
    r"|one more thing\b|one other thing\b|secondly\b|second\b|thirdly\b|third\b|[2-4][).]"
    r"|additionally\b|in addition\b|besides(?: that)?\b|apart from that\b|on top of that\b"
    r"|ok\b|okay\b|but\b|actually\b|hi\b|hello\b|hey\b|lastly\b|finally\b|and finally\b)\s*",
    re.IGNORECASE,
)
_SOFTENERS = re.compile(
    r"^(?:(?:please|pls|plz|kindly|just|can you|could you|would you|can u|could u|will you"
    r"|i need you to|i want you to)\s+)+",
    re.IGNORECASE,
)
_IMPERATIVE = re.compile(rf"^(?:{_VERBS})\b", re.IGNORECASE)
_CUES = re.compile(
    r"\b(?:can|could|would|will|may)\s+(?:you|u|i|we|someone|somebody)\b"
    r"|\b(?:i|we)(?:'d| would| also| really| just| still| now| then)*\s+(?:want|need|wanna"
    r"|like|wish|would like)\b(?!\s+help\b)"
    r"|\bi'd like\b|\bid like\b"
    r"|\b(?:please|pls|plz|kindly)\b"
    r"|\b(?:is it possible|is there a way|let me|help me|trying to|looking to|how do i"
    r"|how can i|how to)\b"
    r"|\?\s*$"
    r"|^(?:where|when|how|what|which|is|are|can|could|do|does|did|has|have|will|would|any)\b",
    re.IGNORECASE,
)
# A condition, an alternative or a reason: a detail of the request beside it, never its own.
_DETAIL_OPENERS = re.compile(
    r"^(?:otherwise|or else|or|if|in case|unless|because|cause|since|as|so that|if not|else"
    r"|in which case|just in case|for|but only)\b",
    re.IGNORECASE,
)

# A yes or no standing as the whole clause ("yes", "ok sure", "no thanks").
_BARE_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|yea|ya|sure|ok|okay|okey|alright|correct|absolutely|definitely"
    r"|of course|go ahead|please do|do it|sounds good|perfect|great)(?:\s+(?:please|pls|thanks"
    r"|thank you|sure|ok|go ahead|do it|that's fine|thats fine|that is fine))*$",
    re.IGNORECASE,
)
_BARE_NO = re.compile(
    r"^(?:no|nope|nah|no thanks|no thank you|not really|actually no|no wait|wait|hold on"
    r"|never ?mind|scratch that|forget it|forget that|actually|on second thought"
    r"|i changed my mind|i've changed my mind|changed my mind)(?:\s+(?:no|thanks|thank you"
    r"|please|actually))*$",
    re.IGNORECASE,
)
# "don't cancel", "no need to return it anymore", "never mind the refund", "I don't want to
# cancel anymore". Actions only: "I don't want it anymore" is a reason to cancel, and "don't
# send it to the old address" a detail of an address change.
_NEGATED_ACTION = re.compile(
    r"(?<!why )\b(?:don'?t|do not|dont|pls don'?t|please don'?t|no need to|there'?s no need"
    r" to|no longer (?:need|want) to|not going to|never ?mind|forget(?: about)?|hold off(?: on)?"
    r"|stop)\s+(?:(?:actually|please|really|need|want|have|wanna|to|go ahead and|bother)\s+)*"
    r"(?:(?:the|my|that|this|your)\s+)?"
    r"(?P<action>cancel|return|refund|exchang|replac|swap|process|do (?:it|that)|go ahead)\w*\b",
    re.IGNORECASE,
)
# The intents a negated verb names: "don't cancel it" is never cancel_order.
_NEGATED_INTENTS: dict[str, frozenset[str]] = {
    "cancel": frozenset(["cancel_order", "cancel_subscription"]),
    "return": frozenset(["return_items"]),
    "refund": frozenset(["get_refund", "track_refund"]),
    "exchang": frozenset(["exchange_items"]),
    "replac": frozenset(["exchange_items"]),
    "swap": frozenset(["exchange_items", "modify_order_items"]),
}
# "cancel the cancellation", "undo the return": the same change of mind, said positively.
_UNDO = re.compile(
    r"\b(?:cancel|undo|withdraw|revoke|call off)\s+(?:the|my)\s+(?:cancell?ation|return|refund"
    r"|exchange)\b",
    re.IGNORECASE,
)

# Boundaries. Each pattern's match start is where a new clause begins.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|;(?=\S)|\n+")
# Words a "." after which does not end a sentence (addresses, titles).
_ABBREVIATIONS = frozenset(
    [
        "st",
        "ave",
        "av",
        "dr",
        "mr",
        "mrs",
        "ms",
        "apt",
        "rd",
        "blvd",
        "ln",
        "no",
        "nr",
        "e.g",
        "i.e",
        "etc",
        "jr",
        "sr",
        "ste",
        "ct",
        "hwy",
        "pl",
        "sq",
        "mt",
        "ft",
        "vs",
        "approx",
        "dept",
        "est",
        "inc",
        "ltd",
        "co",
    ]
)
_CONNECTORS = re.compile(
    r"\band\s+also\b|\band\s+then\b|\boh\s+and\b|\band\s+(?:one|another)\s+(?:more\s+)?thing"
    r"|\b(?:another|one more|one other)\s+thing\b|\bby the way\b|\bbtw\b"
    r"|\b(?:additionally|secondly|thirdly|lastly|besides that|apart from that|on top of that"
    r"|in addition)\b|\bsecond\s*[,:]|(?<=\s)[2-4]\)\s"
    r"|\band\s+(?:please\s+)?(?:can|could|would|will)\s+(?:you|u)\b"
    r"|\band\s+(?:i|we)\s+(?:also\s+)?(?:want|need|would like|'d like|wanna)\b"
    r"|\band\s+i'd\s+(?:also\s+)?like\b"
    r"|\balso\b|\bplus\b(?!\s+(?:size|sized|one|shipping|tax|\d))"
    # Boundaries that do not announce a request by themselves ("cancel and refund me").
    rf"|(?P<join>\band\s+(?:please\s+)?(?:{_SPLIT_VERBS})\b"
    rf"|(?<=,)\s*(?:please\s+)?(?:{_SPLIT_VERBS})\b|\bthen\b)",
    re.IGNORECASE,
)
# "also"/"then" inside a clause ("I also want", "since then") do not split.
_NO_SPLIT_BEFORE = frozenset(
    [
        "i",
        "we",
        "you",
        "u",
        "they",
        "he",
        "she",
        "it",
        "would",
        "could",
        "can",
        "will",
        "i'd",
        "we'd",
        "and",
        "since",
        "by",
        "until",
        "till",
        "back",
        "just",
        "only",
        "even",
        "is",
        "are",
        "was",
        "were",
    ]
)


@dataclass
class Clause:
    start: int
    end: int
    text: str
    # The clause opens with an explicit "new request" connector ("also", "another thing").
    announced: bool = False


@dataclass
class Reading:
    """A clause's reading by the model: its intent and calibrated confidence."""

    intent: str
    confidence: float


@dataclass
class Group:
    """One request: its clauses' span, its intent and the confidence of that reading."""

    start: int
    end: int
    intent: str
    confidence: float
    answer: bool = False
    clauses: list[Clause] = field(default_factory=list)


# Reads a batch of (clause index, clause text with its leading connectors removed); one Reading
# per pair. The index lets the caller treat the message's first clause as a reply to its question.
Classify = Callable[[Sequence[tuple[int, str]]], Sequence[Reading]]
# Nothing read: a clause that can be neither a request nor a yes/no is not sent to the model.
_UNREAD = Reading("out_of_scope", 0.0)
# A clause this short may be a yes/no the rules do not know ("yes pls ty"): the model reads it.
_SHORT_ANSWER_WORDS = 4


def core(text: str) -> str:
    """The clause without the connectors and greetings in front of it."""
    prev = None
    text = text.strip()
    while prev != text:
        prev = text
        text = _LEAD.sub("", text, count=1).strip()
    return text


def _boundaries(text: str) -> list[tuple[int, bool]]:
    """(position, announced) where a new clause starts."""
    found: dict[int, bool] = {}
    for m in _SENTENCE_END.finditer(text):
        before = text[: m.start()].rstrip()
        word = re.split(r"[\s(]", before)[-1].rstrip(".").lower() if before else ""
        if before.endswith(".") and (word in _ABBREVIATIONS or len(word) == 1):
            continue
        found.setdefault(m.end(), False)
    for m in _CONNECTORS.finditer(text):
        start = m.start()
        while start < len(text) and text[start].isspace():
            start += 1
        prev_words = text[:start].split()
        prev = prev_words[-1].lower().strip(",;:") if prev_words else ""
        word = m.group(0).strip().lower()
        if (word in ("also", "then") and prev in _NO_SPLIT_BEFORE) or len(prev_words) < 2:
            continue
        found[start] = found.get(start, False) or m.group("join") is None
    # A leading yes/no followed by a comma ends there: "yes, and also ...", "No, I want ...".
    lead = re.match(r"\s*(?:\w+\s+)?(?:yes|yeah|yep|ok|okay|sure|no|nope|nah)\s*,\s*", text, re.I)
    if lead and (
        _BARE_YES.match(text[: lead.end()].strip(" ,"))
        or _BARE_NO.match(text[: lead.end()].strip(" ,"))
    ):
        found.setdefault(lead.end(), False)
    return sorted((p, a) for p, a in found.items() if 0 < p < len(text))


def split_clauses(text: str) -> list[Clause]:
    """The clauses of ``text`` in order, spans into ``text``; empty pieces dropped."""
    cuts = _boundaries(text[:MAX_SPLIT_CHARS])[: MAX_CLAUSES - 1]
    starts = [(0, False), *cuts]
    out: list[Clause] = []
    for i, (start, announced) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        piece = text[start:end]
        if piece.strip(" \t\n,.;:!-"):
            out.append(Clause(start, end, piece.strip(), announced))
        elif out:  # punctuation only: part of the clause before
            out[-1].end = end
    return out


def answer_of(clause_core: str) -> str | None:
    """confirm/decline when the clause is a yes, a no or a negated action; else None."""
    words = re.sub(r"[^\w\s']", " ", clause_core).strip()
    if _NEGATED_ACTION.search(clause_core) or _UNDO.search(clause_core):
        return DECLINE
    if _BARE_NO.match(words):
        return DECLINE
    if _BARE_YES.match(words):
        return CONFIRM
    return None


def negates(text: str, intent: str) -> bool:
    """Whether ``text`` says not to do ``intent``'s action and never asks for it plainly: "no
    need to return it anymore" read as return_items. "Don't cancel both, just cancel one" asks
    for a cancel too, so it is not a no."""
    stems = {
        m.group("action").lower()
        for m in _NEGATED_ACTION.finditer(text)
        if intent in _NEGATED_INTENTS.get(m.group("action").lower(), frozenset())
    }
    for stem in stems:
        said = len(re.findall(rf"\b{stem}", text, re.IGNORECASE))
        negated = sum(
            1 for m in _NEGATED_ACTION.finditer(text) if m.group("action").lower() == stem
        )
        if said == negated:
            return True
    return False


def request_shaped(clause: Clause, clause_core: str, next_announced: bool) -> bool:
    """Whether the clause asks for something, rather than telling a situation or a detail."""
    if _DETAIL_OPENERS.match(clause_core):
        return False
    if clause.announced or next_announced:
        return True
    bare = _SOFTENERS.sub("", clause_core)
    return bool(_IMPERATIVE.match(bare) or _CUES.search(clause_core))


def is_request(reading: Reading, clause_core: str, announced: bool = False) -> bool:
    needed = ANNOUNCED_CONFIDENCE if announced else REQUEST_CONFIDENCE
    if reading.intent in NOT_REQUESTS or reading.confidence < needed:
        return False
    about = _ABOUT_RX.get(reading.intent)
    return about is None or bool(about.search(clause_core))


def _same_request(a: Group, b: Group, b_text: str) -> str | None:
    """The intent of ``a`` and ``b`` together when they are one request, else None."""
    if a.intent == b.intent:
        return a.intent
    if (a.intent, b.intent) == ("return_items", "exchange_items") and _NEW_ONE.search(b_text):
        return "exchange_items"
    merged = ONE_REQUEST.get(frozenset((a.intent, b.intent)))
    # "Cancel #W1. Where is my refund for #W2?": the pair is one request about one order only.
    if merged is not None and (OTHER_ORDER.search(b_text) or _new_order_ids(a, b_text)):
        return None
    return merged


def _ids(text: str) -> set[str]:
    return {name for _, _, name in order_id_spans(text)}


def _new_order_ids(a: Group, b_text: str) -> bool:
    """Whether ``b_text`` names an order id the clauses of ``a`` do not."""
    return bool(_ids(b_text) - {i for c in a.clauses for i in _ids(c.text[:MAX_CLAUSE_CHARS])})


def group_requests(text: str, classify: Classify) -> list[Group]:
    """The requests of ``text``: one group per request, in order; details attached."""
    if len(text) > MAX_SPLIT_CHARS:
        return []
    clauses = split_clauses(text)
    if len(clauses) < 2:
        return []
    cores = [core(c.text[:MAX_CLAUSE_CHARS]) or c.text[:MAX_CLAUSE_CHARS] for c in clauses]
    rule_answers = [answer_of(cc) for cc in cores]
    shaped = [
        request_shaped(c, cc, i + 1 < len(clauses) and clauses[i + 1].announced)
        for i, (c, cc) in enumerate(zip(clauses, cores, strict=True))
    ]
    # Only clauses that could start a request or be a yes/no are read (each read costs a model
    # call); fewer than two such clauses cannot make two requests.
    to_read = [
        i
        for i, cc in enumerate(cores)
        if rule_answers[i] is None and (shaped[i] or len(cc.split()) <= _SHORT_ANSWER_WORDS)
    ][:MAX_READ]
    if len(to_read) + sum(a is not None for a in rule_answers) < 2:
        return []
    readings = [_UNREAD] * len(clauses)
    got = classify([(i, cores[i]) for i in to_read])
    for i, r in zip(to_read, got, strict=True):
        readings[i] = r
    groups: list[Group] = []
    pending: list[Clause] = []  # details before the first request

    def open_group(c: Clause, intent: str, confidence: float, answer: bool) -> None:
        start = pending[0].start if pending else c.start
        groups.append(Group(start, c.end, intent, confidence, answer, [*pending, c]))
        pending.clear()

    for i, (c, cc, r) in enumerate(zip(clauses, cores, readings, strict=True)):
        leading = not any(not g.answer for g in groups)
        answer = rule_answers[i]
        conf = RULE_ANSWER_CONFIDENCE
        if answer is None and r.intent in (CONFIRM, DECLINE) and len(cc.split()) <= 4:
            answer = r.intent if r.confidence >= REQUEST_CONFIDENCE else None
            conf = r.confidence
        if answer is not None and leading:
            if groups and groups[-1].answer:
                groups[-1].end = c.end
                groups[-1].intent = answer  # the last word wins: "yes... no wait"
                groups[-1].clauses.append(c)
            else:
                open_group(c, answer, conf, True)
            continue
        if answer is None and shaped[i] and is_request(r, cc, c.announced):
            if groups and not groups[-1].answer:
                merged = _same_request(groups[-1], Group(c.start, c.end, r.intent, 0.0), cc)
                if merged is not None:
                    last = groups[-1]
                    if merged != last.intent and merged == r.intent:
                        last.confidence = r.confidence
                    last.intent, last.end = merged, c.end
                    last.clauses.append(c)
                    continue
            open_group(c, r.intent, r.confidence, False)
            continue
        # A detail: it belongs to the request before it, or to the next one when first.
        if groups and not _is_last_answer(groups):
            groups[-1].end = c.end
            groups[-1].clauses.append(c)
        else:
            pending.append(c)
    if pending and groups:
        groups[-1].end = pending[-1].end
        groups[-1].clauses.extend(pending)
    requests = [g for g in groups if not g.answer]
    if not requests or len(groups) < 2:
        return []
    while len(groups) > MAX_PARTS:
        last = groups.pop()
        groups[-1].end = last.end
        groups[-1].clauses.extend(last.clauses)
    return groups


def _is_last_answer(groups: list[Group]) -> bool:
    """Details right after a leading yes/no go to the request that follows it ("No, the
    order is #W1. I want ..."), so they wait; the yes/no keeps only its own words."""
    return all(g.answer for g in groups)
