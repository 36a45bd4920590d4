"""`supportflow simulate --arm ...`: the experiment a shopper run creates, in the syntax of
`supportflow experiments create --arm` (NAME:WEIGHT[:key=value,...], once per arm, control
first), checked by the experiment's own rules before anything touches a stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from supportflow.sales.experiments import Arm, ExperimentError, new_experiment
from supportflow.sim.shopper_model import Offer

# The default experiment: a hold-out against a reminder with 10% off.
DEFAULT_ARMS = ("control:50:send=false", "ten-off:50:offer=discount,discount_percent=10")
_INT_KEYS = frozenset({"discount_percent", "delay_minutes", "weight"})
_KEYS = frozenset({"offer", "discount_percent", "delay_minutes", "send"})


def _value(spec: str, key: str, text: str) -> object:
    if key == "send":
        if text.lower() not in {"true", "false"}:
            raise ValueError(f"--arm {spec!r}: send is true or false, not {text!r}")
        return text.lower() == "true"
    if key in _INT_KEYS:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"--arm {spec!r}: {key} must be a whole number") from None
    return text


def parse_arm(spec: str) -> dict[str, Any]:
    """``ten-off:50:offer=discount,discount_percent=10`` as an arm's fields."""
    parts = spec.strip().split(":", 2)
    if len(parts) < 2 or not parts[0]:
        raise ValueError(f"--arm {spec!r}: write NAME:WEIGHT[:key=value,...]")
    name, weight = parts[0].strip(), _value(spec, "weight", parts[1].strip())
    params: dict[str, object] = {}
    for pair in (p for p in (parts[2].split(",") if len(parts) == 3 else []) if p.strip()):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--arm {spec!r}: parameters are key=value, not {pair!r}")
        if key not in _KEYS:
            raise ValueError(f"--arm {spec!r}: unknown key {key!r}; use {', '.join(sorted(_KEYS))}")
        if key in params:
            raise ValueError(f"--arm {spec!r}: {key} is given twice")
        params[key] = _value(spec, key, raw.strip())
    return {"name": name, "weight": weight, "params": params}


def parse_arms(specs: Sequence[str]) -> tuple[Arm, ...]:
    """The arms (default: ``DEFAULT_ARMS``), checked as an abandoned-checkout experiment;
    ValueError saying what is wrong otherwise."""
    fields = [parse_arm(s) for s in (specs or DEFAULT_ARMS)]
    try:
        draft = new_experiment("t_sim", "simulate", "abandoned_checkout", fields)
    except ExperimentError as err:
        raise ValueError(str(err)) from None
    return draft.arms


def longest_delay_minutes(arms: Sequence[Arm], policy_delay_minutes: int) -> int:
    """The latest any arm's reminder is due (an arm may set its own delay)."""
    return max(a.params.delay_minutes or policy_delay_minutes for a in arms)


def describe(arm: Arm) -> str:
    """An arm's params in words: 'hold-out', '10% off', 'reminder, no offer'."""
    p = arm.params
    if not p.send:
        text = "hold-out (no message)"
    elif p.offer == "discount":
        text = f"reminder, {p.discount_percent}% off"
    elif p.offer == "free_shipping":
        text = "reminder, free shipping"
    else:
        text = "reminder, no offer"
    return text + (f", after {p.delay_minutes} min" if p.delay_minutes else "")


def arm_offer(arm: Arm) -> Offer | None:
    """What an arm's reminder offers, in the model's terms; None for a hold-out."""
    p = arm.params
    if not p.send:
        return None
    if p.offer == "discount":
        return Offer("percentage", float(p.discount_percent or 0))
    return Offer("free_shipping") if p.offer == "free_shipping" else Offer()
