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

export class TokenService {
  readonly #key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
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

  /** Only HS256 with our key is accepted: `alg: none` and other algorithms are forged tokens. */
  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        requiredClaims: ['sub', 'exp'],
      });
      return { userId: payload.sub as string, expiresAt: payload.exp as number };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        throw new UnauthorizedError('Access token expired', 'token_expired');
      }
      throw new UnauthorizedError('Invalid access token', 'invalid_token');
    }
  }
}
