-- Certification: the policy in force, the issuer's public keys, and issued certificates.

-- One row: the policy `verdict serve` checked at start-up and the issuer it signs as,
-- read by every worker.
CREATE TABLE certification_policy (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    policy      TEXT NOT NULL,              -- Policy as JSON, tiers in dependency order
    issuer_url  TEXT NOT NULL,              -- signed into every certificate as its issuer id
    issuer_name TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Every key that ever signed: the JWKS lists them all, so rotation never breaks an old
-- certificate. Private keys stay in the data dir of the processes that sign.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,           -- RFC 7638 thumbprint of the public key
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT                      -- set by `verdict keys retire`: out of the JWKS for good
);

CREATE TABLE certificates (
    id                  TEXT PRIMARY KEY,   -- UUID; the credential id is urn:uuid:<id>
    learner             TEXT NOT NULL,
    tier                TEXT NOT NULL,
    credential          TEXT NOT NULL,      -- the signed VC-JWT (compact JWS)
    kid                 TEXT NOT NULL,
    evidence            TEXT NOT NULL,      -- the submissions that earned it, as JSON
    issued_at           BIGINT NOT NULL,
    revoked_at          BIGINT,
    revocation_reason   TEXT,
    UNIQUE (learner, tier)                  -- exactly one per learner and tier, ever
);
CREATE INDEX certificates_revoked ON certificates (revoked_at);
