"""The writes the sandbox serves, as SDL extending ``sdl.SDL``: customer tags, metafields, consent, discounts.

Names and shapes follow Shopify's published GraphQL Admin API (``tagsAdd``, ``tagsRemove``, ``metafieldsSet``,
``Customer.metafield``, ``customerEmailMarketingConsentUpdate``, ``discountCodeBasicCreate``,
``codeDiscountNodeByCode``); only what MemberHub writes and reads back is here. Discounts are chosen by
``customerSelection``, which every served version has (``context`` replaces it from 2025-10 and is not served).
"""

WRITES_SDL = """
type UserError {
  field: [String!]
  message: String!
}

type TagsAddPayload {
  node: Node
  userErrors: [UserError!]!
}

type TagsRemovePayload {
  node: Node
  userErrors: [UserError!]!
}

enum MetafieldOwnerType {
  CUSTOMER
}

type Metafield implements Node {
  id: ID!
  namespace: String!
  key: String!
  value: String!
  type: String!
  ownerType: MetafieldOwnerType!
}

input MetafieldsSetInput {
  ownerId: ID!
  namespace: String
  key: String!
  value: String!
  type: String
  compareDigest: String
}

enum MetafieldsSetUserErrorCode {
  BLANK
  INCLUSION
  INVALID
  INVALID_TYPE
  INVALID_VALUE
  LESS_THAN_OR_EQUAL_TO
  TOO_LONG
  TOO_SHORT
}

type MetafieldsSetUserError {
  field: [String!]
  message: String!
  code: MetafieldsSetUserErrorCode
  elementIndex: Int
}

type MetafieldsSetPayload {
  metafields: [Metafield!]
  userErrors: [MetafieldsSetUserError!]!
}

extend type Customer {
  metafield(namespace: String, key: String!): Metafield
}

input CustomerEmailMarketingConsentInput {
  marketingState: CustomerEmailMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  consentUpdatedAt: DateTime
}

input CustomerEmailMarketingConsentUpdateInput {
  customerId: ID!
  emailMarketingConsent: CustomerEmailMarketingConsentInput!
}

enum CustomerEmailMarketingConsentUpdateUserErrorCode {
  INCLUSION
  INTERNAL_ERROR
  INVALID
  MISSING_ARGUMENT
}

type CustomerEmailMarketingConsentUpdateUserError {
  field: [String!]
  message: String!
  code: CustomerEmailMarketingConsentUpdateUserErrorCode
}

type CustomerEmailMarketingConsentUpdatePayload {
  customer: Customer
  userErrors: [CustomerEmailMarketingConsentUpdateUserError!]!
}

input DiscountCustomersInput {
  add: [ID!]
  remove: [ID!]
}

input DiscountCustomerSelectionInput {
  all: Boolean
  customers: DiscountCustomersInput
}

input DiscountAmountInput {
  amount: Decimal
  appliesOnEachItem: Boolean
}

input DiscountCustomerGetsValueInput {
  discountAmount: DiscountAmountInput
  percentage: Float
}

input DiscountItemsInput {
  all: Boolean
}

input DiscountCustomerGetsInput {
  value: DiscountCustomerGetsValueInput
  items: DiscountItemsInput
}

input DiscountCodeBasicInput {
  title: String
  code: String
  startsAt: DateTime
  endsAt: DateTime
  customerSelection: DiscountCustomerSelectionInput
  customerGets: DiscountCustomerGetsInput
  usageLimit: Int
  appliesOncePerCustomer: Boolean
}

type DiscountCustomerAll {
  allCustomers: Boolean!
}

type DiscountCustomers {
  customers: [Customer!]!
}

union DiscountCustomerSelection = DiscountCustomerAll | DiscountCustomers

type DiscountAmount {
  amount: MoneyV2!
  appliesOnEachItem: Boolean!
}

type DiscountPercentage {
  percentage: Float!
}

union DiscountCustomerGetsValue = DiscountAmount | DiscountPercentage

type AllDiscountItems {
  allItems: Boolean!
}

union DiscountItems = AllDiscountItems

type DiscountCustomerGets {
  value: DiscountCustomerGetsValue!
  items: DiscountItems!
}

type DiscountCodeBasic {
  title: String!
  startsAt: DateTime!
  endsAt: DateTime
  usageLimit: Int
  appliesOncePerCustomer: Boolean!
  asyncUsageCount: Int!
  customerSelection: DiscountCustomerSelection!
  customerGets: DiscountCustomerGets!
}

union DiscountCode = DiscountCodeBasic

type DiscountCodeNode implements Node {
  id: ID!
  codeDiscount: DiscountCode!
}

enum DiscountErrorCode {
  BLANK
  GREATER_THAN
  GREATER_THAN_OR_EQUAL_TO
  INVALID
  TAKEN
  TOO_LONG
  VALUE_OUTSIDE_RANGE
}

type DiscountUserError {
  field: [String!]
  message: String!
  code: DiscountErrorCode
  extraInfo: String
}

type DiscountCodeBasicCreatePayload {
  codeDiscountNode: DiscountCodeNode
  userErrors: [DiscountUserError!]!
}

extend type QueryRoot {
  codeDiscountNodeByCode(code: String!): DiscountCodeNode
}

extend type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
  metafieldsSet(metafields: [MetafieldsSetInput!]!): MetafieldsSetPayload
  customerEmailMarketingConsentUpdate(
    input: CustomerEmailMarketingConsentUpdateInput!
  ): CustomerEmailMarketingConsentUpdatePayload
  discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!): DiscountCodeBasicCreatePayload
}
"""
