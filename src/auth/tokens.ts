import { errors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { UnauthorizedError } from '../errors.js';

export interface AccessToken {
  accessToken: string;
  expiresIn: number;
}

export interface TokenClaims {
  userId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

const ALGORITHM = 'HS256';
const ISSUER = 'messenger';
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Tokens remembered as verified; a client sends the same one with every request. */
const VERIFIED_TOKENS = 50_000;

/** Whether an account with this id exists now. */
export type SubjectExists = (userId: string) => Promise<boolean>;

export class TokenService {
  readonly #key: Uint8Array;
  /**
   * Tokens that passed every check below. A verified token stays valid until it expires:
   * its signature cannot change, and accounts are never deleted. Only verified tokens are
   * kept, so made-up tokens cannot crowd out real ones.
   */
  readonly #verified = new LRUCache<string, TokenClaims>({ max: VERIFIED_TOKENS });

  constructor(
    secret: string,
    readonly ttlSeconds: number,
    private readonly subjectExists: SubjectExists,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  async issue(userId: string): Promise<AccessToken> {
    const accessToken = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.#key);
    return { accessToken, expiresIn: this.ttlSeconds };
  }

  /**
   * Only HS256 with our key is accepted: `alg: none` and other algorithms are forged tokens.
   * A valid signature is not enough: the subject must be an account that exists, otherwise
   * the token would act as a user nobody can see (a 404 from /users/me, a 422 naming the
   * caller as an unknown user) instead of being refused.
   */
  async verify(token: string): Promise<TokenClaims> {
    const known = this.#verified.get(token);
    if (known !== undefined) {
      if (known.expiresAt * 1000 <= Date.now()) {
        this.#verified.delete(token);
        throw new UnauthorizedError('Access token expired', 'token_expired');
      }
      return known;
    }
    let claims: TokenClaims;
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ['sub', 'exp'],
      });
      claims = { userId: payload.sub as string, expiresAt: payload.exp as number };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        throw new UnauthorizedError('Access token expired', 'token_expired');
      }
      throw new UnauthorizedError('Invalid access token', 'invalid_token');
    }
    // Checked before the lookup: a subject that is no user id must not reach a uuid column.
    if (!USER_ID.test(claims.userId) || !(await this.subjectExists(claims.userId))) {
      throw new UnauthorizedError('Invalid access token', 'invalid_token');
    }
    this.#verified.set(token, claims);
    return claims;
  }
}
