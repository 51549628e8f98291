"""The writes the sandbox serves, as SDL extending ``sdl.SDL``: customer tags and customer metafields.

Names and shapes follow Shopify's published GraphQL Admin API (``tagsAdd``, ``tagsRemove``, ``metafieldsSet``,
``Customer.metafield``); only what MemberHub writes and reads back is here.
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

extend type Mutation {
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
  tagsRemove(id: ID!, tags: [String!]!): TagsRemovePayload
  metafieldsSet(metafields: [MetafieldsSetInput!]!): MetafieldsSetPayload
}
"""
