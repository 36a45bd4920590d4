"""Training messages for intents the public data does not cover.

Each intent has several paraphrase patterns; every pattern is one "family" so the evaluation can
hold whole patterns out (a model that only memorised a pattern would fail there). Slots are
filled from the real catalogue and order ids, and a share of messages get typos and casing noise,
because real customers type that way.

Over 400 lines as one cohesive thing: most of it is the phrase tables, the rest fills their
slots. Each slot a table names ({item}, {option}, {order}, {payment2}...) is filled in
``_fill``, so splitting tables from filler would put one vocabulary in two files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from supportflow.understanding.store_catalogue import store_sample, variants

PER_INTENT = 240


@dataclass(frozen=True)
class Generated:
    text: str
    intent: str
    family: str


# Frames are shared by all action intents; a frame is a template family (as in Bitext), so held-out
# test messages use phrasings never seen in training, with known action vocabulary.
_FRAMES: tuple[str, ...] = (
    "{core}",
    "i want to {core}",
    "i'd like to {core}",
    "can you {core}?",
    "could you please {core}",
    "please {core}",
    "how do i {core}?",
    "i need to {core}, can you help",
    "help me {core}",
    "is it possible to {core}?",
    "question: can i {core}?",
    "hey, i would like to {core} asap",
    "{core} please",
    "i was wondering if i could {core}",
    "what do i have to do to {core}",
    "i need help, i want to {core}",
    "hi there, i'm hoping to {core}",
    "i have to {core}. what are the steps",
    "need to {core}",
    "can i {core}",
    "{core}, thanks",
    "i am trying to {core} but don't know how",
)

_CORES: dict[str, tuple[str, ...]] = {
    "return_items": (
        "return {item}",
        "send back {item}",
        "return {item} from order {order}",
        "start a return for {item}",
        "get a return label for {item}",
        "ship {item} back to you",
        "return the items from order {order}",
        "return {item} because it arrived damaged",
        "send {item} back for a refund",
        "return everything in my last order",
        "make a return",
        "drop off {item} for a return",
        "return {item}, it doesn't fit",
        "return two items i received",
        "send back the wrong item you delivered",
    ),
    "exchange_items": (
        "exchange {item} for {option}",
        "swap {item} i received for {option}",
        "exchange {item} from order {order}",
        "trade {item} for {option}",
        "get {option} instead of the {item} i received",
        "replace the delivered {item} with {option}",
        "exchange my {item} for a different size",
        "exchange {item} for the {color} one",
        "make an exchange",
        "exchange an item from a delivered order",
        "exchange the {item} that arrived for another color",
        "swap the {item} from order {order} for {option}",
    ),
    "modify_order_items": (
        "change {item} in my pending order to {option}",
        "switch {item} in order {order} to {option} before it ships",
        "modify the items in my pending order {order}",
        "change the size of {item} in my order to {size}",
        "update {item} in my unshipped order to the {color} one",
        "edit the item options on order {order}",
        "change the color of {item} in my order before shipping",
        "pick a different variant of {item} in the order i just placed",
        "change {item} to {option} in order {order}, it has not shipped yet",
        "modify {item} in my open order",
    ),
    "modify_order_payment": (
        "change the payment method for order {order}",
        "pay for order {order} with {payment} instead",
        "switch the payment on my pending order to {payment}",
        "use {payment} instead of {payment2} for my order",
        "update the card used for order {order}",
        "charge my {payment} instead of my {payment2}",
        "change how i pay for my order",
        "move the charge for order {order} to my {payment}",
        "bill my {payment} for this order instead",
        "change the payment of order {order} to {payment}",
        "pay with {payment} rather than {payment2} on my pending order",
    ),
    "cancel_subscription": (
        "cancel my subscription",
        "cancel my {plan} subscription",
        "stop my {plan} subscription for good",
        "end my {plan} membership",
        "turn off auto renewal for my subscription",
        "stop the recurring delivery of {product} permanently",
        "terminate my subscription",
        "quit my {plan} plan",
        "stop being charged every month for my subscription",
        "cancel the {plan} plan",
        "end my subscribe and save for {product}",
        "cancel my {product} subscription",
    ),
    "pause_subscription": (
        "pause my subscription",
        "pause my {plan} subscription for {duration}",
        "put my subscription on hold",
        "skip next month's delivery",
        "skip the next shipment of my {plan} subscription",
        "suspend my subscription until {month}",
        "freeze my {plan} membership for {duration}",
        "hold my {product} deliveries until {month}",
        "temporarily stop my subscription",
        "take a break from my subscription for {duration}",
        "pause the {product} subscription while i'm away",
        "skip my {plan} box this month",
    ),
}

_PATTERNS: dict[str, tuple[str, ...]] = {
    "confirm": (
        "{yes}",
        "{yes}, {go}",
        "{yes} {go}",
        "{go}",
        "{yes}, that's {right}",
        "that's {right}",
        "{yes} please",
        "{yes}, thanks",
        "{yes}, that's the one",
        "{yes} {yes}",
        "i confirm",
        "{yes}, i confirm",
    ),
    "decline": (
        "{no}",
        "{no}, {stop}",
        "{no} {stop}",
        "{stop}",
        "{no}, that's {wrong}",
        "that's {wrong}",
        "{no} thanks",
        "{no}, i changed my mind",
        "{no} {no}",
        "{no}, not that one",
        "i don't want that",
        "{no}, leave it as it is",
    ),
    "greeting": (
        "{hi}",
        "{hi} there",
        "{hi}, is anyone there?",
        "{hi} support",
        "{hi}, how are you",
        "{hi}, i have a question",
        "{hi}!",
        "{hi} team",
        "{hi}, are you there",
        "{hi} {hi}",
    ),
    "thanks": (
        "{thanks}",
        "{thanks}!",
        "{thanks}, {bye}",
        "{great}, {thanks}",
        "{thanks} for your help",
        "{thanks}, that's all i needed",
        "{thanks} so much",
        "{great} {thanks}",
        "ok {thanks}",
        "{thanks}, you've been very helpful",
    ),
}

_WORDS: dict[str, tuple[str, ...]] = {
    "yes": (
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "correct",
        "right",
        "absolutely",
        "definitely",
        "of course",
        "affirmative",
        "y",
        "yes indeed",
        "sounds good",
        "alright",
        "certainly",
        "please do",
        "exactly",
    ),
    "go": (
        "go ahead",
        "do it",
        "please proceed",
        "proceed",
        "confirm",
        "go for it",
        "that works",
        "let's do it",
        "sounds good",
        "please do",
        "confirmed",
        "make it so",
    ),
    "right": ("right", "correct", "fine", "perfect", "it", "the one", "what i want"),
    "no": (
        "no",
        "nope",
        "nah",
        "no way",
        "not really",
        "negative",
        "n",
        "no thank you",
        "absolutely not",
        "definitely not",
        "not now",
        "never mind",
    ),
    "stop": (
        "don't do it",
        "stop",
        "wait",
        "hold on",
        "don't",
        "cancel that",
        "leave it",
        "forget it",
        "please don't",
        "not yet",
        "keep it as is",
    ),
    "wrong": ("wrong", "not right", "incorrect", "not what i want", "not it", "not correct"),
    "hi": (
        "hi",
        "hello",
        "hey",
        "good morning",
        "good afternoon",
        "good evening",
        "howdy",
        "greetings",
        "hiya",
        "yo",
        "hey hey",
        "hello hello",
    ),
    "thanks": (
        "thanks",
        "thank you",
        "thanks a lot",
        "cheers",
        "appreciate it",
        "many thanks",
        "thx",
        "ty",
        "thank you very much",
        "much appreciated",
        "thanks a bunch",
    ),
    "bye": ("bye", "have a nice day", "that's all", "goodbye", "take care"),
    "great": ("great", "perfect", "awesome", "cool", "nice", "excellent", "wonderful"),
    "plan": (
        "monthly",
        "coffee",
        "premium",
        "annual",
        "weekly",
        "subscription box",
        "auto-ship",
        "gold",
        "quarterly",
    ),
    "duration": (
        "a month",
        "two weeks",
        "3 months",
        "the summer",
        "one month",
        "6 weeks",
        "a few weeks",
    ),
    "month": ("june", "next month", "september", "january", "after the holidays", "march"),
    "payment": (
        "paypal",
        "gift card",
        "credit card",
        "visa card",
        "mastercard",
        "debit card",
        "gift card balance",
        "amex",
    ),
    "size": ("size m", "size l", "a medium", "xl", "size 10", "a larger size", "small"),
}


def _item_phrases(rng: random.Random) -> list[str]:
    vs = variants()
    out = []
    for v in rng.sample(list(vs), min(160, len(vs))):
        name = v.product_name.lower()
        opts = [val.lower() for _, val in v.options]
        k = rng.randint(0, min(2, len(opts)))
        picked = rng.sample(opts, k)
        article = rng.choice(("the ", "my ", "the ", "a ", ""))
        out.append(f"{article}{' '.join([*picked, name])}".strip())
    return out


def _option_phrases(rng: random.Random) -> list[str]:
    opts = sorted({val.lower() for v in variants() for _, val in v.options})
    picked = rng.sample(opts, min(80, len(opts)))
    return [*[f"the {o} one" for o in picked[:40]], *picked[40:], *_WORDS["size"]]


_COLORS = ("blue", "red", "black", "white", "green", "purple", "silver", "navy", "beige", "gold")


def order_as_typed(rng: random.Random, oid: str, *, whole: float, with_w: float) -> str:
    """``oid`` ("#W1234567") as customers write it: whole with probability ``whole``, else
    without the "#" up to ``with_w`` (cumulative), else without the "#" and the "W".

    Customers write ids with and without the "#" and the "W"; the model must not care.
    """
    style = rng.random()
    if style < whole:
        return oid
    if style < with_w:
        return oid.lstrip("#")
    return oid[2:]


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    op = rng.random()
    if op < 0.33:
        w = w[:j] + w[j + 1 :]
    elif op < 0.66:
        w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _noise(rng: random.Random, text: str) -> str:
    if rng.random() < 0.15:
        text = _typo(rng, text)
    r = rng.random()
    if r < 0.3:
        text = text[:1].upper() + text[1:]
    elif r < 0.35:
        text = text.upper()
    prefix = rng.random()
    if prefix < 0.1:
        text = rng.choice(("hi, ", "hello, ", "hey ", "please, ", "excuse me, ")) + text
    return text


def _fill(rng: random.Random, pattern: str, items: list[str], options: list[str]) -> str:
    order_ids = store_sample().order_ids
    slots: dict[str, str] = {k: rng.choice(v) for k, v in _WORDS.items()}
    slots["item"] = rng.choice(items)
    slots["option"] = rng.choice(options)
    slots["color"] = rng.choice(_COLORS)
    slots["order"] = order_as_typed(rng, rng.choice(order_ids), whole=0.5, with_w=0.8)
    slots["product"] = rng.choice(items).split(" ")[-1]
    slots["payment2"] = rng.choice([p for p in _WORDS["payment"] if p != slots["payment"]])
    return pattern.format(**slots)


def _patterns() -> dict[str, list[tuple[str, str]]]:
    """(pattern, family) per intent: frame x core for actions, fixed patterns for short replies."""
    out: dict[str, list[tuple[str, str]]] = {}
    for intent, cores in _CORES.items():
        out[intent] = [
            (frame.replace("{core}", core), f"tpl:{intent}:frame{j}")
            for j, frame in enumerate(_FRAMES)
            for core in cores
        ]
    for intent, patterns in _PATTERNS.items():
        out[intent] = [(p, f"tpl:{intent}:{j}") for j, p in enumerate(patterns)]
    return out


def generate(seed: int = 13, per_intent: int = PER_INTENT) -> list[Generated]:
    """Deterministic: the same seed always gives the same messages in the same order."""
    rng = random.Random(seed)
    items = _item_phrases(rng)
    options = _option_phrases(rng)
    out: list[Generated] = []
    for intent, patterns in _patterns().items():
        seen: set[str] = set()
        attempts = 0
        # Short-reply intents have a small phrase space; stop when it is exhausted.
        while len(seen) < per_intent and attempts < per_intent * 20:
            attempts += 1
            pattern, family = rng.choice(patterns)
            text = _noise(rng, _fill(rng, pattern, items, options))
            if text in seen:
                continue
            seen.add(text)
            out.append(Generated(text=text, intent=intent, family=family))
    return out


NEW_INTENTS: tuple[str, ...] = (*_CORES, *_PATTERNS)
