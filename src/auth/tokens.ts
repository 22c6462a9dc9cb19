import { errors, jwtVerify, SignJWT } from 'jose';
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

/** Whether an account with this id exists now. */
export type SubjectExists = (userId: string) => Promise<boolean>;

export class TokenService {
  readonly #key: Uint8Array;

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
    return claims;
  }
}
