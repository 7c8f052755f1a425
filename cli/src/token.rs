//! `loyalty token`: mint a token, as the identity provider does, for development, tests and for
//! service identities (`--service ledger`).
use crate::output::Output;
use anyhow::Context;
use base64::Engine;
use loyalty_platform::auth::Grant;
use loyalty_platform::keys::TokenSigner;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TokenArgs {
    /// Tenant the token acts for.
    #[arg(long, required_unless_present = "service")]
    pub tenant: Option<String>,
    /// Comma-separated rights, e.g. clients.read,clients.write ("*" for all within the tenant).
    #[arg(long, value_delimiter = ',', required_unless_present = "service")]
    pub rights: Vec<String>,
    /// A service identity instead: "client", "card", "ledger" or "segment", with the rights it needs,
    /// acting for every tenant (for `identity.token_file`).
    #[arg(long, conflicts_with_all = ["tenant", "rights", "stores"])]
    pub service: Option<String>,
    /// Limit the token to these stores (CL-11).
    #[arg(long, value_delimiter = ',')]
    pub stores: Vec<String>,
    /// Lifetime: 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// Subject (user or integration id).
    #[arg(long, default_value = "dev")]
    pub subject: String,
    /// Display name recorded in history.
    #[arg(long, default_value = "")]
    pub name: String,
    /// "user", "integration" or "system".
    #[arg(long, default_value = "user")]
    pub kind: String,
    /// The issuer's Ed25519 private key (PKCS#8 DER, as a file of base64); the development key when
    /// not given. With --kid and --issuer it signs as the identity provider does.
    #[arg(long)]
    pub key_file: Option<std::path::PathBuf>,
    /// `kid` of --key-file's key.
    #[arg(long, default_value = "")]
    pub kid: String,
    /// `iss` of the token (the development issuer when not given).
    #[arg(long, default_value = loyalty_platform::keys::DEVELOPMENT_ISSUER)]
    pub issuer: String,
}

pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 1h"))?;
    let seconds = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    if seconds == 0 {
        return Err("ttl: must be longer than 0".into());
    }
    Ok(Duration::from_secs(seconds))
}

/// The rights each service's own identity needs.
pub fn service_rights(service: &str) -> anyhow::Result<&'static [&'static str]> {
    Ok(match service {
        "client" => loyalty_client::IDENTITY_RIGHTS,
        "card" => loyalty_card::IDENTITY_RIGHTS,
        "ledger" => loyalty_ledger::IDENTITY_RIGHTS,
        "segment" => loyalty_segment::IDENTITY_RIGHTS,
        "messaging" => loyalty_messaging::IDENTITY_RIGHTS,
        "importexport" => loyalty_import_export::IDENTITY_RIGHTS,
        other => anyhow::bail!(
            "--service {other:?}: the services with an identity are client, card, ledger, segment, messaging and importexport"
        ),
    })
}

fn signer(args: &TokenArgs) -> anyhow::Result<TokenSigner> {
    let Some(path) = &args.key_file else { return Ok(TokenSigner::development()) };
    let text = std::fs::read_to_string(path).with_context(|| format!("--key-file: reading {}", path.display()))?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("--key-file: not base64 of a PKCS#8 key")?;
    anyhow::ensure!(!args.kid.is_empty(), "--kid is required with --key-file: services pick the key by it");
    Ok(TokenSigner::from_pkcs8(&der, &args.kid, &args.issuer))
}

pub fn run(args: TokenArgs, out: &Output) -> anyhow::Result<()> {
    let signer = signer(&args)?;
    let token = match &args.service {
        Some(service) => {
            let subject = format!("{service}-service");
            let mut grant = Grant::service(&subject, service_rights(service)?);
            grant.ttl = args.ttl.max(Duration::from_secs(3600));
            signer.mint(&grant)?
        }
        None => {
            let rights: Vec<&str> = args.rights.iter().map(String::as_str).collect();
            let stores: Vec<&str> = args.stores.iter().map(String::as_str).collect();
            let grant = Grant {
                subject: &args.subject,
                tenant: args.tenant.as_deref().unwrap_or_default(),
                rights: &rights,
                stores: &stores,
                name: &args.name,
                kind: &args.kind,
                ttl: args.ttl,
            };
            signer.mint(&grant)?
        }
    };
    out.value(serde_json::json!({ "token": token }), &token);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_with_units() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
