"""The subset of the Shopify GraphQL Admin API the sandbox serves, as SDL.

Type and field names follow Shopify's published schema; only what MemberHub reads is here. Kept in a module
rather than a ``.graphql`` file so that it ships with the package without package-data.
"""

SDL = """
schema {
  query: QueryRoot
  mutation: Mutation
}

scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64

interface Node {
  id: ID!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum CurrencyCode {
  JPY
}

type MoneyV2 {
  amount: Decimal!
  currencyCode: CurrencyCode!
}

type MoneyBag {
  shopMoney: MoneyV2!
  presentmentMoney: MoneyV2!
}

enum CustomerEmailMarketingState {
  NOT_SUBSCRIBED
  PENDING
  SUBSCRIBED
  UNSUBSCRIBED
  REDACTED
  INVALID
}

enum CustomerMarketingOptInLevel {
  SINGLE_OPT_IN
  CONFIRMED_OPT_IN
  UNKNOWN
}

type CustomerEmailMarketingConsentState {
  marketingState: CustomerEmailMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
}

enum CountryCode {
  JP
}

enum CustomerState {
  DECLINED
  DISABLED
  ENABLED
  INVITED
}

type MailingAddress implements Node {
  id: ID!
  firstName: String
  lastName: String
  zip: String
  province: String
  provinceCode: String
  city: String
  address1: String
  address2: String
  country: String
  countryCodeV2: CountryCode
  phone: String
}

type Customer implements Node {
  id: ID!
  firstName: String
  lastName: String
  displayName: String!
  email: String
  phone: String
  verifiedEmail: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  tags: [String!]!
  note: String
  state: CustomerState!
  emailMarketingConsent: CustomerEmailMarketingConsentState
  defaultAddress: MailingAddress
}

type CustomerEdge {
  cursor: String!
  node: Customer!
}

type CustomerConnection {
  edges: [CustomerEdge!]!
  nodes: [Customer!]!
  pageInfo: PageInfo!
}

enum CustomerSortKeys {
  CREATED_AT
  ID
  UPDATED_AT
}

enum OrderDisplayFinancialStatus {
  AUTHORIZED
  EXPIRED
  PAID
  PARTIALLY_PAID
  PARTIALLY_REFUNDED
  PENDING
  REFUNDED
  VOIDED
}

enum OrderDisplayFulfillmentStatus {
  FULFILLED
  UNFULFILLED
}

enum OrderCancelReason {
  CUSTOMER
  DECLINED
  FRAUD
  INVENTORY
  OTHER
  STAFF
}

type Location implements Node {
  id: ID!
  name: String!
}

type LineItem implements Node {
  id: ID!
  sku: String
  name: String!
  title: String!
  quantity: Int!
  currentQuantity: Int!
  originalUnitPriceSet: MoneyBag!
  originalTotalSet: MoneyBag!
}

type LineItemEdge {
  cursor: String!
  node: LineItem!
}

type LineItemConnection {
  edges: [LineItemEdge!]!
  nodes: [LineItem!]!
  pageInfo: PageInfo!
}

type Refund implements Node {
  id: ID!
  createdAt: DateTime
  note: String
  totalRefundedSet: MoneyBag!
}

type Order implements Node {
  id: ID!
  name: String!
  createdAt: DateTime!
  processedAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  currencyCode: CurrencyCode!
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
  totalRefundedSet: MoneyBag!
  discountCodes: [String!]!
  sourceName: String
  retailLocation: Location
  physicalLocation: Location
  tags: [String!]!
  test: Boolean!
  customer: Customer
  lineItems(first: Int, after: String): LineItemConnection!
  refunds(first: Int): [Refund!]!
}

type OrderEdge {
  cursor: String!
  node: Order!
}

type OrderConnection {
  edges: [OrderEdge!]!
  nodes: [Order!]!
  pageInfo: PageInfo!
}

enum OrderSortKeys {
  CREATED_AT
  ID
  PROCESSED_AT
  UPDATED_AT
}

enum BulkOperationStatus {
  CANCELED
  CANCELING
  COMPLETED
  CREATED
  EXPIRED
  FAILED
  RUNNING
}

enum BulkOperationType {
  MUTATION
  QUERY
}

enum BulkOperationErrorCode {
  ACCESS_DENIED
  INTERNAL_SERVER_ERROR
  TIMEOUT
}

enum BulkOperationUserErrorCode {
  INVALID
  LIMIT_REACHED
  OPERATION_IN_PROGRESS
}

type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  type: BulkOperationType!
  errorCode: BulkOperationErrorCode
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
}

type BulkOperationUserError {
  field: [String!]
  message: String!
  code: BulkOperationUserErrorCode
}

type BulkOperationRunQueryPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}

type BulkOperationCancelPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}

type QueryRoot {
  customers(first: Int, after: String, sortKey: CustomerSortKeys = ID, query: String): CustomerConnection!
  orders(first: Int, after: String, sortKey: OrderSortKeys = ID, query: String): OrderConnection!
  customer(id: ID!): Customer
  order(id: ID!): Order
  node(id: ID!): Node
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
}

type Mutation {
  bulkOperationRunQuery(query: String!, groupObjects: Boolean! = false): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
}
"""
