"""The executable schema: the SDL of ``sdl`` and ``sdl_writes`` with resolvers over ``ShopRecords``, bulk and writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, build_schema

from connectors.shopify.sandbox.connections import BulkPage, list_connection, record_connection
from connectors.shopify.sandbox.discounts import code_discount_node_by_code, discount_code_basic_create
from connectors.shopify.sandbox.records import KINDS, ShopRecords
from connectors.shopify.sandbox.sdl import SDL
from connectors.shopify.sandbox.sdl_writes import WRITES_SDL
from connectors.shopify.sandbox.writes import (
    customer_email_marketing_consent_update,
    customer_metafield,
    metafields_set,
    tags_add,
    tags_remove,
)

if TYPE_CHECKING:
    from connectors.shopify.sandbox.bulk import BulkOperations


@dataclass
class QueryContext:
    """What resolvers see: the records, the bulk operations, the public base URL, and the bulk export window."""

    records: ShopRecords
    bulk: BulkOperations
    base_url: str
    bulk_page: BulkPage | None = None


if TYPE_CHECKING:  # generic only from graphql-core 3.3; annotations are strings at run time
    Info = GraphQLResolveInfo[QueryContext]


def _context(info: Info) -> QueryContext:
    return info.context


def _records_field(kind: str) -> Any:
    def resolve(_root: Any, info: Info, **args: Any) -> dict[str, Any]:
        context = _context(info)
        return record_connection(context.records, kind, args, context.bulk_page)

    return resolve


def _one_record(kind: str) -> Any:
    def resolve(_root: Any, info: Info, id: str) -> dict[str, Any] | None:
        records = _context(info).records
        index = records.index_of(kind, id)
        return None if index is None else records.render(kind, index)

    return resolve


def _node(_root: Any, info: Info, id: str) -> dict[str, Any] | None:
    context = _context(info)
    if id.startswith("gid://shopify/BulkOperation/"):
        return context.bulk.find(id, context.base_url)
    for kind in KINDS:
        index = context.records.index_of(kind, id)
        if index is not None:
            return context.records.render(kind, index)
    return None


def _current_bulk_operation(_root: Any, info: Info, type: str = "QUERY") -> dict[str, Any] | None:
    context = _context(info)
    return context.bulk.current(type, context.base_url)


def _run_bulk_query(_root: Any, info: Info, query: str, groupObjects: bool = False) -> dict[str, Any]:
    context = _context(info)
    return context.bulk.run_query(query, context.base_url)


def _cancel_bulk_operation(_root: Any, info: Info, id: str) -> dict[str, Any]:
    context = _context(info)
    return context.bulk.cancel(id, context.base_url)


def _tags_add(_root: Any, info: Info, id: str, tags: list[str]) -> dict[str, Any]:
    return tags_add(_context(info).records, id, tags)


def _tags_remove(_root: Any, info: Info, id: str, tags: list[str]) -> dict[str, Any]:
    return tags_remove(_context(info).records, id, tags)


def _metafields_set(_root: Any, info: Info, metafields: list[dict[str, Any]]) -> dict[str, Any]:
    return metafields_set(_context(info).records, metafields)


def _consent_update(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    return customer_email_marketing_consent_update(_context(info).records, input)


def _discount_create(_root: Any, info: Info, basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:
    return discount_code_basic_create(_context(info).records, basicCodeDiscount)


def _discount_by_code(_root: Any, info: Info, code: str) -> dict[str, Any] | None:
    return code_discount_node_by_code(_context(info).records, code)


def _customer_metafield(customer: dict[str, Any], info: Info, key: str, namespace: str | None = None) -> Any:
    return customer_metafield(_context(info).records, customer["id"], namespace, key)


def _line_items(order: dict[str, Any], info: Info, **args: Any) -> dict[str, Any]:
    return list_connection(order["_lines"], args, unlimited=_context(info).bulk_page is not None)


def _order_customer(order: dict[str, Any], info: Info) -> dict[str, Any] | None:
    index = order["_customer"]
    return None if index is None else _context(info).records.customer(index)


def _refunds(order: dict[str, Any], _info: Info, first: int | None = None) -> list[dict[str, Any]]:
    refunds: list[dict[str, Any]] = order["refunds"]
    return refunds if first is None else refunds[:first]


def _node_type(value: dict[str, Any], *_: Any) -> str:
    return str(value["id"]).split("/")[3]


def build_shop_schema() -> GraphQLSchema:
    """A fresh executable schema."""
    schema = build_schema(SDL + WRITES_SDL)
    resolvers: dict[tuple[str, str], Any] = {
        ("QueryRoot", "customers"): _records_field("customers"),
        ("QueryRoot", "orders"): _records_field("orders"),
        ("QueryRoot", "customer"): _one_record("customers"),
        ("QueryRoot", "order"): _one_record("orders"),
        ("QueryRoot", "node"): _node,
        ("QueryRoot", "currentBulkOperation"): _current_bulk_operation,
        ("QueryRoot", "codeDiscountNodeByCode"): _discount_by_code,
        ("Mutation", "bulkOperationRunQuery"): _run_bulk_query,
        ("Mutation", "bulkOperationCancel"): _cancel_bulk_operation,
        ("Mutation", "tagsAdd"): _tags_add,
        ("Mutation", "tagsRemove"): _tags_remove,
        ("Mutation", "metafieldsSet"): _metafields_set,
        ("Mutation", "customerEmailMarketingConsentUpdate"): _consent_update,
        ("Mutation", "discountCodeBasicCreate"): _discount_create,
        ("Customer", "metafield"): _customer_metafield,
        ("Order", "lineItems"): _line_items,
        ("Order", "customer"): _order_customer,
        ("Order", "refunds"): _refunds,
    }
    for (type_name, field_name), resolve in resolvers.items():
        object_type = schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        object_type.fields[field_name].resolve = resolve
    node = schema.get_type("Node")
    node.resolve_type = _node_type  # type: ignore[union-attr]
    return schema


SCHEMA = build_shop_schema()
