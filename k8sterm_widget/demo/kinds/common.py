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
    """``metav1validation.ValidateLabelSelector`` (values checked strictly): match labels as labels, each
    expression's operator, key and values."""
    errors: list[st.FieldError] = []
    if not isinstance(selector, dict):
        return errors
    errors += v.validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        expr = expr if isinstance(expr, dict) else {}
        op, values = expr.get("operator", ""), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errors.append(
                    v.required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errors.append(
                    st.FieldError(
                        f"{epath}.values",
                        st.FORBIDDEN,
                        "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errors.append(v.invalid_value(f"{epath}.operator", op, "not a valid selector operator"))
        key = str(expr.get("key", ""))
        errors += [v.invalid_value(f"{epath}.key", key, m) for m in v.label_key(key)]
        for j, value in enumerate(values):
            errors += [v.invalid_value(f"{epath}.values[{j}]", value, m) for m in v.label_value(str(value))]
    return errors


def selector_value(selector: Any) -> Any:
    """A ``*metav1.LabelSelector`` as ``json.Marshal`` writes it in a field error (struct field order,
    ``omitempty``, map keys sorted)."""
    if not isinstance(selector, dict):
        return selector
    out: Obj = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = v.go_map_value(selector["matchLabels"])
    exprs = []
    for expr in selector.get("matchExpressions") or []:
        expr = expr if isinstance(expr, dict) else {}
        item: Obj = {"key": expr.get("key", ""), "operator": expr.get("operator", "")}
        if expr.get("values"):
            item["values"] = expr["values"]
        exprs.append(item)
    if exprs:
        out["matchExpressions"] = exprs
    return out


def workload_selector_errors(selector: Any, path: str, kind: str) -> tuple[list[st.FieldError], bool]:
    """The selector part of ``ValidateDeploymentSpec`` (and of the ReplicaSet's and DaemonSet's): required,
    valid, not empty; and whether it converts to a selector (``LabelSelectorAsSelector``), which
    is when the template's labels are checked against it."""
    if selector is None:
        return [v.required(path)], True
    errors = validate_label_selector(selector, path)
    if (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    ):
        errors.append(
            v.invalid_value(path, selector_value(selector), f"empty selector is invalid for {kind}")
        )
    if errors and any(e.field.startswith(f"{path}.") for e in errors):
        errors.append(v.invalid_value(path, selector_value(selector), "invalid label selector"))
        return errors, False
    return errors, True


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
