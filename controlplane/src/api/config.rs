//! `[api]`: where the REST API listens, its bearer token and optional TLS.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default listen address of the REST API.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:9001";

/// The `[api]` section of the configuration file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApiConfig {
    /// Address and port of the REST API.
    pub listen: SocketAddr,
    /// Bearer token required on every `/v1/*` and `/skydns/api/*` call.
    pub token: Option<String>,
    /// File holding the token (first line, surrounding whitespace trimmed).
    pub token_file: Option<PathBuf>,
    /// PEM certificate chain; with `tls-key`, the API speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: DEFAULT_API_LISTEN.parse().expect("valid address"),
            token: None,
            token_file: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// The token is a secret: Debug output never shows it.
impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

/// Why an `[api]` section cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ApiConfigError {
    #[error("api: set either token or token-file, not both")]
    TokenTwice,
    #[error("api: token-file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("api: the token is empty")]
    EmptyToken,
    #[error("api: the token must be printable ASCII without spaces")]
    BadToken,
    #[error("api: tls-cert and tls-key must be given together")]
    HalfTls,
    #[error(
        "api: listen {0} is not a loopback address and no token is set; \
         set [api] token or token-file (or listen on 127.0.0.1)"
    )]
    OpenNonLoopback(SocketAddr),
}

impl ApiConfig {
    /// The token to require, read from `token` or `token-file` (`None` = no auth).
    pub fn resolve_token(&self) -> Result<Option<String>, ApiConfigError> {
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => return Err(ApiConfigError::TokenTwice),
            (Some(t), None) => t.trim().to_string(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|source| ApiConfigError::TokenFile {
                    path: path.clone(),
                    source,
                })?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
            (None, None) => return Ok(None),
        };
        if token.is_empty() {
            return Err(ApiConfigError::EmptyToken);
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiConfigError::BadToken);
        }
        Ok(Some(token))
    }

    /// Checks everything that does not need the network; returns the token.
    pub fn validate(&self) -> Result<Option<String>, ApiConfigError> {
        let token = self.resolve_token()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ApiConfigError::HalfTls);
        }
        if token.is_none() && !self.listen.ip().is_loopback() {
            return Err(ApiConfigError::OpenNonLoopback(self.listen));
        }
        Ok(token)
    }

    /// True when the API is served over HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parsing() {
        let cfg: ApiConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, ApiConfig::default());
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:9001");
        let cfg: ApiConfig =
            toml::from_str("listen = \"0.0.0.0:8080\"\ntoken = \"s3cret\"\n").unwrap();
        assert_eq!(cfg.validate().unwrap().as_deref(), Some("s3cret"));
        assert!(!format!("{cfg:?}").contains("s3cret"));
        assert!(toml::from_str::<ApiConfig>("tokn = \"x\"").is_err());
    }

    #[test]
    fn rejects_unsafe_or_inconsistent_settings() {
        let open: ApiConfig = toml::from_str("listen = \"0.0.0.0:9001\"").unwrap();
        assert!(matches!(
            open.validate(),
            Err(ApiConfigError::OpenNonLoopback(_))
        ));
        let half: ApiConfig = toml::from_str("tls-cert = \"/x.pem\"").unwrap();
        assert!(matches!(half.validate(), Err(ApiConfigError::HalfTls)));
        let empty: ApiConfig = toml::from_str("token = \"  \"").unwrap();
        assert!(matches!(empty.validate(), Err(ApiConfigError::EmptyToken)));
    }

    #[test]
    fn token_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc123\nignored\n").unwrap();
        let cfg = ApiConfig {
            token_file: Some(path),
            ..ApiConfig::default()
        };
        assert_eq!(cfg.validate().unwrap().as_deref(), Some("abc123"));
    }
}
