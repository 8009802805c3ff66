//! `verdict certificate verify`: checks a certificate the way any outside verifier
//! would, from the credential alone: the signature against the issuer's JWKS, the
//! claims, and the issuer's revocation list.
//!
//! Trust comes from the verifier, never from the credential: anyone can run an issuer at
//! an address of their own and sign for it, so the verifier names the issuer it trusts
//! (`--issuer`, the school's public URL) or hands over that issuer's keys (`--jwks`).
//! Every check fails closed: an unreadable or malformed revocation list is an error,
//! not "not revoked".

use super::credential;
use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;

/// What a verification found.
#[derive(Debug)]
pub struct Report {
    pub issuer: String,
    pub kid: String,
    pub learner: String,
    pub achievement: String,
    pub valid_from: String,
    pub evidence: Vec<String>,
    /// `Some(reason)` when the issuer lists the credential as revoked.
    pub revoked: Option<String>,
}

/// The largest response read from an issuer (JWKS, revocation list, certificate).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Where the credential comes from: a file (the JWS, or a certificate's JSON), or a URL
/// of the certificate (its page or its JSON).
pub async fn verify(
    source: &str,
    jwks_source: Option<&str>,
    expected_issuer: Option<&str>,
) -> anyhow::Result<Report> {
    if expected_issuer.is_none() && jwks_source.is_none() {
        bail!(
            "say which issuer you trust: --issuer <the school's public URL> (or --jwks <its keys>); a credential cannot vouch for its own issuer"
        );
    }
    // Redirects are not followed: every address fetched is one the credential or the
    // verifier named.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let jws = read_credential(&http, source).await?;
    let claimed = unverified_payload(&jws)?;
    let issuer = claimed["iss"]
        .as_str()
        .context("the credential has no `iss` claim")?
        .trim_end_matches('/')
        .to_string();
    if let Some(expected) = expected_issuer
        && expected.trim_end_matches('/') != issuer
    {
        bail!("the credential was issued by {issuer}, not by {expected}");
    }
    let jwks_text = match jwks_source {
        Some(source) => fetch_or_read(&http, source).await?,
        None => fetch(&http, &format!("{issuer}/.well-known/jwks.json")).await?,
    };
    let jwks: Value = serde_json::from_str(&jwks_text).context("the JWKS is not JSON")?;
    let verified = credential::verify(&jws, &jwks).map_err(|error| anyhow::anyhow!("{error}"))?;
    let payload = verified.payload;
    check_claims(&payload, &issuer)?;
    let revoked = revocation(&http, &payload).await?;
    Ok(Report {
        issuer,
        kid: verified.kid,
        learner: payload["credentialSubject"]["identifier"][0]["identityHash"]
            .as_str()
            .unwrap_or("(unnamed)")
            .to_string(),
        achievement: payload["credentialSubject"]["achievement"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        valid_from: payload["validFrom"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        evidence: payload["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["description"].as_str().map(str::to_string))
            .collect(),
        revoked,
    })
}

/// The credential's claims match the Open Badges 3.0 JWT mapping.
fn check_claims(payload: &Value, issuer: &str) -> anyhow::Result<()> {
    let types = payload["type"].as_array().cloned().unwrap_or_default();
    if !types.iter().any(|t| t == "OpenBadgeCredential") {
        bail!("not an OpenBadgeCredential (type is {})", payload["type"]);
    }
    if payload["issuer"]["id"]
        .as_str()
        .map(|id| id.trim_end_matches('/'))
        != Some(issuer)
    {
        bail!("the `iss` claim does not match issuer.id");
    }
    if payload["jti"] != payload["id"] {
        bail!("the `jti` claim does not match the credential id");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    match payload["nbf"].as_i64() {
        Some(nbf) if nbf <= now + 60 => {}
        Some(_) => bail!("the credential is not valid yet (nbf is in the future)"),
        None => bail!("the credential has no `nbf` claim"),
    }
    if let Some(exp) = payload["exp"].as_i64()
        && exp < now
    {
        bail!("the credential expired");
    }
    Ok(())
}

/// Asks the issuer's revocation list; a list that cannot be read fails the check.
async fn revocation(http: &reqwest::Client, payload: &Value) -> anyhow::Result<Option<String>> {
    let status = &payload["credentialStatus"];
    if status.is_null() {
        bail!("the credential has no credentialStatus: its revocation cannot be checked");
    }
    if status["type"] != "1EdTechRevocationList" {
        bail!("unknown credentialStatus type {}", status["type"]);
    }
    let url = status["id"]
        .as_str()
        .context("credentialStatus has no id")?;
    let list: Value = serde_json::from_str(&fetch(http, url).await?)
        .with_context(|| format!("the revocation list at {url} is not JSON"))?;
    if list["id"] != url {
        bail!("the revocation list at {url} names itself {}", list["id"]);
    }
    let revoked = list["revokedCredentials"]
        .as_array()
        .with_context(|| format!("the revocation list at {url} has no revokedCredentials array"))?;
    let id = payload["id"].as_str().unwrap_or_default();
    Ok(revoked
        .iter()
        .find(|entry| entry["id"] == id && entry["revoked"] != false)
        .map(|entry| {
            entry["revocationReason"]
                .as_str()
                .unwrap_or("no reason given")
                .to_string()
        }))
}

/// The JWS in a file or behind a URL: the raw JWS, or JSON with a `credential` field.
async fn read_credential(http: &reqwest::Client, source: &str) -> anyhow::Result<String> {
    let text = if is_url(source) {
        let url = certificate_json_url(source).unwrap_or_else(|| source.to_string());
        fetch(http, &url).await?
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?
    };
    let text = text.trim();
    if text.starts_with('{') {
        let json: Value =
            serde_json::from_str(text).context("the certificate is not valid JSON")?;
        return json["credential"]
            .as_str()
            .map(str::to_string)
            .context("the JSON has no `credential` field holding the signed credential");
    }
    Ok(text.to_string())
}

/// `…/certificates/{id}` (the page) or `…/v1/certificates/{id}` → the JSON's URL.
fn certificate_json_url(url: &str) -> Option<String> {
    let (base, id) = url.trim_end_matches('/').rsplit_once("/certificates/")?;
    let base = base.trim_end_matches("/v1");
    Some(format!("{base}/v1/certificates/{id}"))
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

async fn fetch_or_read(http: &reqwest::Client, source: &str) -> anyhow::Result<String> {
    if is_url(source) {
        fetch(http, source).await
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
    }
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url} answered {status}");
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        bail!("{url} answered more than {MAX_RESPONSE_BYTES} bytes");
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESPONSE_BYTES {
            bail!("{url} answered more than {MAX_RESPONSE_BYTES} bytes");
        }
    }
    String::from_utf8(body).with_context(|| format!("{url} answered text that is not UTF-8"))
}

fn unverified_payload(jws: &str) -> anyhow::Result<Value> {
    let payload = jws
        .split('.')
        .nth(1)
        .context("not a compact JWS (three base64url parts)")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("the JWS payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the JWS payload is not JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_json_of_a_certificate_from_either_url() {
        assert_eq!(
            certificate_json_url("http://h:1/certificates/abc").as_deref(),
            Some("http://h:1/v1/certificates/abc")
        );
        assert_eq!(
            certificate_json_url("http://h:1/v1/certificates/abc/").as_deref(),
            Some("http://h:1/v1/certificates/abc")
        );
        assert_eq!(certificate_json_url("http://h:1/other"), None);
    }
}
