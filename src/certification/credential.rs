//! The certificate as an Open Badges 3.0 `OpenBadgeCredential`, signed as a VC-JWT.
//!
//! As in Open Badges 3.0 §8.2, the JWT payload is the credential itself, with the
//! registered claims `iss`, `jti` and `nbf` mapped from `issuer.id`, `id` and
//! `validFrom`. The JOSE header is `{"alg":"EdDSA","kid":…,"typ":"JWT"}`; as OB 3.0 asks,
//! the `kid` is a URI that dereferences to the key: `<issuer>/.well-known/jwks.json#<id>`,
//! the key's entry in the JWKS (whose `kid` is that same URI), where `<id>` is the key's
//! RFC 7638 thumbprint. Revocation follows the 1EdTech Revocation List
//! status method: `credentialStatus` points at `/v1/revocations`.

use super::keys::IssuerKey;
use crate::domain::{Evidence, IssuerProfile, Tier, TierRules};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde_json::{Value, json};

/// Formats a score without a spurious `.0`.
pub fn number(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        format!("{:.2}", value)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// What one certificate awards, and to whom.
#[derive(Debug, Clone, Copy)]
pub struct Award<'a> {
    pub certificate_id: &'a str,
    pub learner: &'a str,
    pub tier: Tier,
    pub rules: &'a TierRules,
    /// The best passing submission of each exercise that counted.
    pub evidence: &'a [Evidence],
    pub issued_at_ms: i64,
}

/// The credential (the JWT payload) for a certificate.
pub fn build(issuer: &IssuerProfile, award: Award<'_>) -> Value {
    let Award {
        certificate_id,
        learner,
        tier,
        rules,
        evidence,
        issued_at_ms,
    } = award;
    let valid_from = crate::store::rfc3339(issued_at_ms);
    let credential_id = format!("urn:uuid:{certificate_id}");
    let narrative = criteria_narrative(rules);
    json!({
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            // Defines the 1EdTechRevocationList status type.
            "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
        ],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": format!("{} certificate", rules.title),
        "issuer": {
            "id": issuer.url,
            "type": ["Profile"],
            "name": issuer.name,
            "url": issuer.url,
        },
        "validFrom": valid_from,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityHash": learner,
                "identityType": "ext:learnerId",
                "hashed": false,
            }],
            "achievement": {
                "id": format!("{}/achievements/{}", issuer.url, tier.as_str()),
                "type": ["Achievement"],
                "achievementType": "Certification",
                "name": rules.title,
                "description": rules.description.clone().unwrap_or_else(|| format!("{} tier of the course", rules.title)),
                "criteria": {"narrative": narrative},
            },
        },
        "evidence": evidence.iter().map(|item| json!({
            "id": format!("urn:uuid:{}", item.submission),
            "type": ["Evidence"],
            "name": item.exercise,
            "description": format!(
                "{} version {}: score {}/{} (graded {})",
                item.exercise, item.version, number(item.score), number(item.max_score), item.completed_at
            ),
            "genre": "Submission",
        })).collect::<Vec<_>>(),
        "credentialStatus": {
            "id": format!("{}/v1/revocations", issuer.url),
            "type": "1EdTechRevocationList",
        },
        "iss": issuer.url,
        "jti": credential_id,
        "nbf": issued_at_ms / 1000,
    })
}

/// What a learner had to do, in words.
fn criteria_narrative(rules: &TierRules) -> String {
    let mut parts = Vec::new();
    if !rules.requires.is_empty() {
        parts.push(format!(
            "Hold the {} certificate{}.",
            rules
                .requires
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            if rules.requires.len() > 1 { "s" } else { "" }
        ));
    }
    if !rules.required.is_empty() {
        parts.push(format!("Pass {}.", rules.required.join(", ")));
    }
    parts.push(format!(
        "Earn at least {} points from passed {} exercises; an exercise counts as passed at {}% of its points.",
        number(rules.min_points),
        rules.title,
        number(rules.pass_ratio * 100.0)
    ));
    parts.join(" ")
}

/// The `kid` URI of a key: its entry in the issuer's JWKS.
pub fn key_uri(issuer_url: &str, kid: &str) -> String {
    format!("{issuer_url}/.well-known/jwks.json#{kid}")
}

/// The key id in a `kid` URI (the fragment), or the `kid` itself.
pub fn key_id(kid: &str) -> &str {
    kid.rsplit_once('#').map_or(kid, |(_, id)| id)
}

/// Signs `payload` as a compact JWS (EdDSA), naming the key by `kid` (a URI).
pub fn sign(payload: &Value, key: &IssuerKey, kid: &str) -> String {
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = key.signing.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// Why a credential does not verify.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("not a compact JWS (three base64url parts)")]
    Malformed,
    #[error("the JOSE header's alg is {0:?}; only EdDSA is accepted")]
    Algorithm(String),
    #[error("the key {0:?} is not in the issuer's JWKS")]
    UnknownKey(String),
    #[error("the signature does not match the credential")]
    BadSignature,
    #[error("the JOSE header names critical extensions (crit, b64) this verifier does not support")]
    Critical,
}

/// A credential whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    pub kid: String,
    pub payload: Value,
}

/// Checks a compact JWS against the keys of a JWKS (`{"keys": [...]}`).
pub fn verify(jws: &str, jwks: &Value) -> Result<Verified, VerifyError> {
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(VerifyError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| VerifyError::Malformed)
    };
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| VerifyError::Malformed)?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if alg != "EdDSA" {
        return Err(VerifyError::Algorithm(alg.to_string()));
    }
    // No extension is understood, so any critical one refuses the JWS (RFC 7515 §4.1.11).
    if header.get("crit").is_some() || header.get("b64").is_some() {
        return Err(VerifyError::Critical);
    }
    let kid = header["kid"].as_str().unwrap_or_default().to_string();
    let key = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        // By key id, so a `kid` URI finds its key in a JWKS served under another address.
        .find(|jwk| {
            jwk["kid"].as_str().map(key_id) == Some(key_id(&kid))
                && jwk["kty"] == "OKP"
                && jwk["crv"] == "Ed25519"
        })
        .and_then(|jwk| URL_SAFE_NO_PAD.decode(jwk["x"].as_str()?).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
    let signature: [u8; 64] = decode(signature)?
        .try_into()
        .map_err(|_| VerifyError::Malformed)?;
    let signing_input = &jws.trim()[..header_len(jws.trim())];
    key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| VerifyError::BadSignature)?;
    let payload: Value =
        serde_json::from_slice(&decode(payload)?).map_err(|_| VerifyError::Malformed)?;
    Ok(Verified {
        kid: key_id(&kid).to_string(),
        payload,
    })
}

/// The length of `header.payload` in a compact JWS.
fn header_len(jws: &str) -> usize {
    jws.rfind('.').unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn rules() -> TierRules {
        TierRules {
            title: "Hero".into(),
            requires: vec![],
            required: vec!["leap".into()],
            min_points: 20.0,
            pass_ratio: 0.8,
            description: None,
        }
    }

    #[test]
    fn signs_and_verifies_and_refuses_tampering() {
        let key = IssuerKey::from_signing(SigningKey::from_bytes(&[7; 32]));
        let other = IssuerKey::from_signing(SigningKey::from_bytes(&[8; 32]));
        let issuer = IssuerProfile {
            url: "https://grader.example".into(),
            name: "School".into(),
        };
        let evidence = vec![Evidence {
            submission: "s1".into(),
            exercise: "leap".into(),
            version: "v1".into(),
            score: 10.0,
            max_score: 10.0,
            completed_at: "2026-01-01T00:00:00Z".into(),
        }];
        let payload = build(
            &issuer,
            Award {
                certificate_id: "c1",
                learner: "ada",
                tier: Tier::Hero,
                rules: &rules(),
                evidence: &evidence,
                issued_at_ms: 1_700_000_000_000,
            },
        );
        assert_eq!(
            payload["credentialSubject"]["achievement"]["achievementType"],
            "Certification"
        );
        let jws = sign(&payload, &key, &key_uri("https://grader.example", &key.kid));
        let jwks = json!({"keys": [key.public_jwk()]});
        let verified = verify(&jws, &jwks).unwrap();
        assert_eq!(verified.payload, payload);
        assert_eq!(verified.kid, key.kid);

        let both = json!({"keys": [other.public_jwk(), key.public_jwk()]});
        assert!(
            verify(&jws, &both).is_ok(),
            "an older key in the JWKS does not hide the right one"
        );
        assert_eq!(
            verify(&jws, &json!({"keys": [other.public_jwk()]})).unwrap_err(),
            VerifyError::UnknownKey(key_uri("https://grader.example", &key.kid))
        );
        let mut forged = payload.clone();
        forged["credentialSubject"]["identifier"][0]["identityHash"] = json!("mallory");
        let forged_jws = format!(
            "{}.{}.{}",
            jws.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            jws.rsplit('.').next().unwrap()
        );
        assert_eq!(
            verify(&forged_jws, &jwks).unwrap_err(),
            VerifyError::BadSignature
        );
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        assert_eq!(
            verify(&none_alg, &jwks).unwrap_err(),
            VerifyError::Algorithm("none".into())
        );
        assert_eq!(verify("a.b", &jwks).unwrap_err(), VerifyError::Malformed);
        let critical = IssuerKey::from_signing(SigningKey::from_bytes(&[7; 32]));
        let header = json!({"alg": "EdDSA", "kid": critical.kid, "crit": ["exp"]});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signed = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(critical.signing.sign(input.as_bytes()).to_bytes())
        );
        assert_eq!(verify(&signed, &jwks).unwrap_err(), VerifyError::Critical);
    }
}
