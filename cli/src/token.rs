//! `loyalty token`: mint a token for development and tests.
use anyhow::Context;
use loyalty_platform::auth::{Grant, TokenKeys};
use loyalty_platform::config::PlatformSettings;
use std::time::Duration;

#[derive(clap::Args)]
pub struct TokenArgs {
    /// Tenant the token acts for.
    #[arg(long)]
    pub tenant: String,
    /// Comma-separated rights, e.g. clients.read,clients.write ("*" for all).
    #[arg(long, value_delimiter = ',', required = true)]
    pub rights: Vec<String>,
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

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let settings: PlatformSettings = loyalty_platform::config::load("cli", None)?;
    let rights: Vec<&str> = args.rights.iter().map(String::as_str).collect();
    let stores: Vec<&str> = args.stores.iter().map(String::as_str).collect();
    let grant = Grant {
        subject: &args.subject,
        tenant: &args.tenant,
        rights: &rights,
        stores: &stores,
        name: &args.name,
        kind: &args.kind,
        ttl: args.ttl,
    };
    let token = TokenKeys::new(&settings.auth).mint(&grant).context("minting the token")?;
    println!("{token}");
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
