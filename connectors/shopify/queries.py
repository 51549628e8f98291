"""The GraphQL documents the connector sends, and what Shopify will charge for them.

Costs follow shopify.dev "GraphQL Admin API rate limits": a scalar costs 0, an object 1, a connection 2 plus
``first`` times the cost of one of its objects, a list of objects ``first`` times one object. The bucket must
hold a query's *requested* cost before it runs, and one query may not ask for more than ``MAX_QUERY_COST``.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_QUERY_COST = 1000

_MONEY = "shopMoney { amount currencyCode }"  # a MoneyBag (1) and its MoneyV2 (1)

CUSTOMER_SELECTION = """
  id firstName lastName email phone verifiedEmail updatedAt
  defaultAddress { zip province city address1 address2 phone }"""
CUSTOMER_FIELDS = f"fragment CustomerFields on Customer {{{CUSTOMER_SELECTION}\n}}"

LINE_ITEM_SELECTION = f"id sku name quantity originalUnitPriceSet {{ {_MONEY} }} originalTotalSet {{ {_MONEY} }}"
LINE_ITEM_FIELDS = f"fragment LineItemFields on LineItem {{ {LINE_ITEM_SELECTION} }}"

ORDER_SELECTION = f"""
  id name createdAt processedAt updatedAt cancelledAt displayFinancialStatus currencyCode
  totalPriceSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} totalDiscountsSet {{ {_MONEY} }}
  discountCodes sourceName retailLocation {{ id }} customer {{ id }}"""
REFUND_SELECTION = f"id createdAt totalRefundedSet {{ {_MONEY} }}"

ORDER_FIELDS = f"""
fragment OrderFields on Order {{{ORDER_SELECTION}
  lineItems(first: $lines) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ ...LineItemFields }} }}
  refunds(first: $refunds) {{ {REFUND_SELECTION} }}
}}"""

CUSTOMERS_PAGE = (
    """
query CustomersPage($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CustomerFields }
  }
}"""
    + CUSTOMER_FIELDS
)

ORDERS_PAGE = (
    """
query OrdersPage($first: Int!, $after: String, $query: String, $lines: Int!, $refunds: Int!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}"""
    + ORDER_FIELDS
    + LINE_ITEM_FIELDS
)

ORDER_BY_ID = (
    """
query OrderById($id: ID!, $lines: Int!, $refunds: Int!) {
  order(id: $id) { ...OrderFields }
}"""
    + ORDER_FIELDS
    + LINE_ITEM_FIELDS
)

ORDER_LINE_ITEMS = (
    """
query OrderLineItems($id: ID!, $lines: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $lines, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...LineItemFields } }
  }
}"""
    + LINE_ITEM_FIELDS
)

LINE_ITEMS_FOLLOW_UP = 150
"""Line items per follow-up page of one order: 3 + 150 × 5 points stays under ``MAX_QUERY_COST``."""

BULK_CUSTOMERS = f"{{ customers(sortKey: ID) {{ edges {{ node {{{CUSTOMER_SELECTION} }} }} }} }}"
"""A bulk export of every customer: one connection, nothing nested."""
BULK_ORDERS = f"""{{ orders(sortKey: ID) {{ edges {{ node {{{ORDER_SELECTION}
  lineItems {{ edges {{ node {{ {LINE_ITEM_SELECTION} }} }} }}
  refunds {{ {REFUND_SELECTION} }}
}} }} }} }}"""
"""A bulk export of every order; its line items come as lines of their own with ``__parentId`` (no ``first``:
a bulk query reads every element of a connection)."""

BULK_RUN = """
mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status createdAt } userErrors { field message code } }
}"""
BULK_OPERATION = """
query BulkOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode createdAt objectCount url } }
}"""
BULK_CURRENT = "query BulkCurrent { currentBulkOperation(type: QUERY) { id status query createdAt } }"

CHECK = "query Check { customers(first: 1) { nodes { id } } }"

CUSTOMER_WRITES: dict[str, tuple[str, str]] = {
    "remove": ("$remove: [String!]!", "tagsRemove(id: $id, tags: $remove) { userErrors { field message } }"),
    "add": ("$add: [String!]!", "tagsAdd(id: $id, tags: $add) { userErrors { field message } }"),
    "metafields": (
        "$metafields: [MetafieldsSetInput!]!",
        "metafieldsSet(metafields: $metafields) { userErrors { field message code } }",
    ),
}
"""The writes to one customer, by the alias they answer under: (variable declaration, mutation field)."""


def customer_writes(parts: Sequence[str]) -> str:
    """One mutation doing the ``CUSTOMER_WRITES`` named by ``parts``, in that order (10 points each)."""
    declarations = [CUSTOMER_WRITES[part][0] for part in parts]
    if {"remove", "add"} & set(parts):
        declarations.insert(0, "$id: ID!")
    fields = " ".join(f"{part}: {CUSTOMER_WRITES[part][1]}" for part in parts)
    return f"mutation CustomerWrites({', '.join(declarations)}) {{ {fields} }}"


def _order_cost(lines: int, refunds: int) -> int:
    money_bags, objects = 3 * 2, 2  # three MoneyBags; retailLocation and customer
    line_item = 1 + 2 * 2
    refund = 1 + 2
    return 1 + money_bags + objects + (2 + lines * line_item) + refunds * refund


def orders_page_cost(page_size: int, lines: int, refunds: int) -> int:
    """The requested cost of one ``ORDERS_PAGE`` query."""
    return 2 + page_size * _order_cost(lines, refunds)
