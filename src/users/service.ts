import { decoyPasswordHash, hashPassword, verifyPassword } from '../auth/passwords.js';
import type { AccessToken, TokenService } from '../auth/tokens.js';
import type { Db } from '../db/database.js';
import { newId } from '../db/ids.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../errors.js';
import {
  findUserById,
  findUserByUsername,
  insertUser,
  searchUsers,
  type UserRow,
} from './queries.js';
import type { CreateUserBody, User } from './schemas.js';

export function toUser(row: UserRow): User {
  return {
    user_id: row.id,
    username: row.username,
    display_name: row.displayName,
    created: row.created.toISOString(),
  };
}

export class UserService {
  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
  ) {}

  async register(input: CreateUserBody): Promise<User> {
    const row: UserRow = {
      id: newId(),
      username: input.username,
      displayName: input.display_name?.trim() || input.username,
      passwordHash: await hashPassword(input.password),
      created: new Date(),
    };
    // The unique index on lower(username) decides races between two sign-ups.
    if (!(await insertUser(this.db, row))) {
      throw new ConflictError('That username is taken', 'username_taken');
    }
    return toUser(row);
  }

  async issueToken(username: string, password: string): Promise<AccessToken> {
    const user = await findUserByUsername(this.db, username);
    const valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash));
    if (!user || !valid) {
      throw new UnauthorizedError('Wrong username or password', 'invalid_credentials');
    }
    return this.tokens.issue(user.id);
  }

  async get(userId: string): Promise<User> {
    const row = await findUserById(this.db, userId);
    if (!row) throw new NotFoundError('User');
    return toUser(row);
  }

  async search(search: string, limit: number): Promise<{ items: User[]; has_more: boolean }> {
    const rows = await searchUsers(this.db, search.trim(), limit + 1);
    return { items: rows.slice(0, limit).map(toUser), has_more: rows.length > limit };
  }
}
