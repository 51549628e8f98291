"""Calculated query cost and the leaky bucket that pays for it, after Shopify's GraphQL Admin API rate limits.

Costs (shopify.dev "GraphQL Admin API rate limits"): a scalar or enum costs 0, an object 1, a mutation 10; a
connection costs 2 plus, per object it may return (``first``), 1 and the cost of that object's selection, so
nested connections multiply. ``requestedQueryCost`` uses ``first``; ``actualQueryCost`` the objects returned.
The bucket must hold the requested cost before a query runs; the unused part is refunded afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

MUTATION_COST = 10
_CLOCK_SLACK = 1e-6
"""Points a client that waited exactly ``(cost − available) / restoreRate`` may lack to float rounding of the clock."""


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """The requested cost of ``document`` or, given the response ``data``, its actual cost."""
    operation = next(node for node in document.definitions if isinstance(node, OperationDefinitionNode))
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments, variables or {})
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * len(operation.selection_set.selections)
    root = schema.query_type
    assert root is not None
    return _selection_cost(walk, root, operation.selection_set, data, requested=data is None)


def _fields(walk: _Walk, parent: GraphQLNamedType, selection_set: SelectionSetNode) -> list[FieldNode]:
    """The fields selected on ``parent``, fragments expanded when they apply to it."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or condition.name.value == parent.name or not isinstance(parent, GraphQLObjectType):
                fields.extend(_fields(walk, parent, selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments[selection.name.value]
            if fragment.type_condition.name.value == parent.name or not isinstance(parent, GraphQLObjectType):
                fields.extend(_fields(walk, parent, fragment.selection_set))
    return fields


def _selection_cost(
    walk: _Walk, parent: GraphQLNamedType, selection_set: SelectionSetNode, data: Any, *, requested: bool
) -> int:
    total = 0
    field_map: dict[str, GraphQLField] = getattr(parent, "fields", {})
    for node in _fields(walk, parent, selection_set):
        definition = field_map.get(node.name.value)
        if definition is None or node.selection_set is None:
            continue  # scalars, enums, __typename
        key = node.alias.value if node.alias else node.name.value
        value = None if requested or not isinstance(data, dict) else data.get(key)
        total += _field_cost(walk, node, definition, value, requested=requested)
    return total


def _field_cost(walk: _Walk, node: FieldNode, definition: GraphQLField, value: Any, *, requested: bool) -> int:
    named = get_named_type(definition.type)
    assert node.selection_set is not None
    if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
        return 2 + _connection_items_cost(walk, node, definition, named, value, requested=requested)
    if _is_list(definition.type):
        items = value if isinstance(value, list) else []
        if requested:
            count = _first(walk, node) or 1
            return int(count) * (1 + _selection_cost(walk, named, node.selection_set, None, requested=True))
        return sum(1 + _selection_cost(walk, named, node.selection_set, item, requested=False) for item in items)
    return 1 + _selection_cost(walk, named, node.selection_set, value, requested=requested)


def _connection_items_cost(
    walk: _Walk,
    node: FieldNode,
    definition: GraphQLField,
    connection: GraphQLObjectType,
    value: Any,
    *,
    requested: bool,
) -> int:
    """What the objects of a connection cost: through ``edges { node }`` or ``nodes``, whichever costs more."""
    assert node.selection_set is not None
    item_type = get_named_type(connection.fields["nodes"].type)
    costs = [0]
    for inner in _fields(walk, connection, node.selection_set):
        selection = _item_selection(walk, inner)
        if selection is None:
            continue
        if requested:
            first = _first(walk, node) or 0
            costs.append(int(first) * (1 + _selection_cost(walk, item_type, selection, None, requested=True)))
        else:
            items = _items(value, inner)
            costs.append(sum(1 + _selection_cost(walk, item_type, selection, item, requested=False) for item in items))
    return max(costs)


def _first(walk: _Walk, node: FieldNode) -> int | None:
    """The ``first`` argument of a field, literal or variable."""
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        if isinstance(argument.value, IntValueNode):
            return int(argument.value.value)
        if isinstance(argument.value, VariableNode):
            value = walk.variables.get(argument.value.name.value)
            return value if isinstance(value, int) else None
    return None


def _item_selection(walk: _Walk, inner: FieldNode) -> SelectionSetNode | None:
    if inner.name.value == "nodes":
        return inner.selection_set
    if inner.name.value == "edges" and inner.selection_set is not None:
        for edge_field in inner.selection_set.selections:
            if isinstance(edge_field, FieldNode) and edge_field.name.value == "node":
                return edge_field.selection_set
    return None


def _items(value: Any, inner: FieldNode) -> list[Any]:
    if not isinstance(value, dict):
        return []
    found = value.get(inner.alias.value if inner.alias else inner.name.value) or []
    if inner.name.value == "nodes":
        return list(found)
    return [edge.get("node") for edge in found if isinstance(edge, dict)]


def _is_list(output: GraphQLOutputType) -> bool:
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    return isinstance(inner, GraphQLList)


@dataclass
class CostBucket:
    """A leaky bucket of query points: holds ``maximum``, refills at ``restore_rate`` a second."""

    maximum: float = 2000.0
    restore_rate: float = 100.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._available = self.maximum
        self._at = self.clock()

    def available(self) -> float:
        """Points in the bucket now."""
        with self._lock:
            self._refill()
            return self._available

    def try_spend(self, cost: int) -> bool:
        """Take ``cost`` points if the bucket holds them."""
        with self._lock:
            self._refill()
            if cost > self._available + _CLOCK_SLACK:
                return False
            self._available -= cost
            return True

    def refund(self, points: int) -> None:
        """Give back the unused part of a query's requested cost."""
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + points)

    def drain(self) -> None:
        """Empty the bucket, as a burst of other traffic would."""
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> dict[str, float]:
        """``throttleStatus`` as Shopify reports it."""
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": float(int(self.available())),
            "restoreRate": float(self.restore_rate),
        }

    def _refill(self) -> None:
        now = self.clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
