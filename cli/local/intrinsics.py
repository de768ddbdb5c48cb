"""CloudFormation intrinsic functions, resolved against the physical values of a local stack."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_NO_VALUE = object()


class TemplateResolutionError(Exception):
    """The template uses something the local runtime cannot resolve."""


def references(value: Any) -> Iterator[str]:
    """Yield every name a value refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub`."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
        return
    if not isinstance(value, dict):
        return
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            yield arg
        elif key == "Fn::GetAtt":
            yield (arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
        elif key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            for name in _SUB_VARIABLE.findall(text):
                yield name.split(".", 1)[0]
            if isinstance(arg, list):
                yield from references(arg[1])
        else:
            yield from references(arg)


class Resolver:
    """Resolves intrinsic functions once the resources they name have physical values."""

    def __init__(self, template: Mapping[str, Any], *, region: str, account_id: str, stack_name: str) -> None:
        self._template = template
        self._conditions: dict[str, bool] = {}
        self.refs: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        self.attributes: dict[str, dict[str, Any]] = {}
        self._skipped: set[str] = set()
        for name, parameter in template.get("Parameters", {}).items():
            # SSM-typed parameters (the CDK bootstrap version) only feed Rules, which are not evaluated.
            self.refs[name] = parameter.get("Default", "")

    def set_resource(self, logical_id: str, ref: Any, attributes: Mapping[str, Any]) -> None:
        """Record the physical id and attributes of a created (or skipped) resource."""
        self.refs[logical_id] = ref
        self.attributes[logical_id] = dict(attributes)

    def set_skipped(self, logical_id: str) -> None:
        """Record a resource that is not created: references to it resolve to placeholders."""
        self._skipped.add(logical_id)
        self.refs[logical_id] = logical_id

    def condition(self, name: str) -> bool:
        """Evaluate a named condition of the template."""
        if name not in self._conditions:
            definition = self._template.get("Conditions", {}).get(name)
            if definition is None:
                raise TemplateResolutionError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(definition))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        """Return the value with every intrinsic function replaced by its result."""
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self._resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, arg)
        return {k: r for k, r in ((k, self._resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            if arg == "AWS::NoValue":
                return _NO_VALUE
            if arg not in self.refs:
                raise TemplateResolutionError(f"Ref to {arg}, which is not created yet or unknown")
            return self.refs[arg]
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                logical_id, attribute = arg.split(".", 1)
            else:
                logical_id, attribute = arg[0], self.resolve(arg[1])
            if logical_id in self._skipped:
                return f"{logical_id}.{attribute}"
            try:
                return self.attributes[logical_id][attribute]
            except KeyError:
                raise TemplateResolutionError(f"Fn::GetAtt {logical_id}.{attribute} is not known") from None
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(item) for item in self.resolve(items))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = self.resolve(arg)
            return str(text).split(separator)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self._resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in arg)
        if key == "Fn::Or":
            return any(self._truth(item) for item in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::FindInMap":
            mapping, top, second = self.resolve(arg)
            return self._template["Mappings"][mapping][top][second]
        if key == "Fn::GetAZs":
            region = self.refs["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        raise TemplateResolutionError(f"intrinsic function {key} is not supported locally")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        return bool(self.resolve(value))

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._function("Fn::GetAtt", name))
            return str(self._function("Ref", name))

        # `${!Literal}` is CloudFormation's escape for a literal `${Literal}`.
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
