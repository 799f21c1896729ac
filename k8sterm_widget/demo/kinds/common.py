"""What the kinds' strategies and printers share: ages, selectors, container/image cells."""

from __future__ import annotations

from typing import Any

from .. import status as st
from .. import validation as v
from ..registry import Column
from ..tables import _AGE_DOC, _NAME_DOC, human_duration, parse_time

Obj = dict[str, Any]

NAME = Column("Name", format="name", description=_NAME_DOC)
AGE = Column("Age", description=_AGE_DOC)


def age(obj: Obj, now: float) -> str:
    t = parse_time(obj["metadata"].get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(now - t)


def since(stamp: str | None, now: float) -> str:
    t = parse_time(stamp)
    return "<unknown>" if t is None else human_duration(now - t)


def selector_string(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: ``app=web,tier in (a,b)``; ``<none>`` for an empty selector."""
    if not isinstance(selector, dict):
        return "<none>"
    parts = [f"{k}={val}" for k, val in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator", "")
        values = ",".join(expr.get("values") or [])
        key = expr.get("key", "")
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    text = ",".join(parts)
    return text or "<none>"


def map_selector_string(selector: Any) -> str:
    if not selector:
        return "<none>"
    return ",".join(f"{k}={val}" for k, val in sorted(selector.items()))


def containers_and_images(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def label_selector_matches(selector: Any, labels: dict[str, str] | None) -> bool:
    """A ``metav1.LabelSelector`` against labels; an empty selector matches everything, None nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def validate_label_selector(selector: Any, path: str) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    if not isinstance(selector, dict):
        return [v.required(path)]
    for key, value in (selector.get("matchLabels") or {}).items():
        problem = v.qualified_name(key)
        if problem:
            errors.append(v.invalid_value(f"{path}.matchLabels", key, problem))
        errors += v.labels_and_annotations({"labels": {key: value}}, path) if not problem else []
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        op = expr.get("operator")
        errors += v.supported(
            op, f"{path}.matchExpressions[{i}].operator", ("In", "NotIn", "Exists", "DoesNotExist")
        )
        if op in ("In", "NotIn") and not expr.get("values"):
            errors.append(
                v.required(
                    f"{path}.matchExpressions[{i}].values",
                    "must be specified when `operator` is 'In' or 'NotIn'",
                )
            )
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.append(v.invalid_value(path, "null", "empty selector is invalid for deployment"))
    return errors


def go_label_selector(selector: Obj) -> str:
    """``%#v`` of a ``v1.LabelSelector`` (in ``field is immutable`` messages)."""
    labels = selector.get("matchLabels")
    ml = v.go_map(labels) if labels else "map[string]string(nil)"
    exprs = selector.get("matchExpressions")
    me = (
        "[]v1.LabelSelectorRequirement(nil)"
        if not exprs
        else f"[]v1.LabelSelectorRequirement{{...{len(exprs)}}}"
    )
    return f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}"


def owner_of(obj: Obj) -> Obj | None:
    """The controller ownerReference (``controller: true``), if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def controller_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
