import { type Static, Type } from 'typebox';
import { CleanText, Id, Limit, Timestamp } from '../http/schemas.js';

export const User = Type.Object({
  user_id: Id,
  username: Type.String(),
  display_name: Type.String(),
  created: Timestamp,
});
export type User = Static<typeof User>;

export const CreateUserBody = Type.Object({
  username: Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' }),
  password: CleanText({ minLength: 8, maxLength: 128 }),
  display_name: Type.Optional(CleanText({ minLength: 1, maxLength: 64 })),
});
export type CreateUserBody = Static<typeof CreateUserBody>;

export const TokenBody = Type.Object({
  username: Type.String({ maxLength: 256 }),
  password: Type.String({ maxLength: 1024 }),
});
export type TokenBody = Static<typeof TokenBody>;

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
});

export const UserSearchQuery = Type.Object({
  search: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Limit,
});
export type UserSearchQuery = Static<typeof UserSearchQuery>;

export const UserPage = Type.Object({ items: Type.Array(User), has_more: Type.Boolean() });

export const UserParams = Type.Object({ user_id: Id });
