//! `[api]`: where the REST API listens, its bearer token (on by default: a
//! generated one in `<data-dir>/api-token`), accepted Host names, connection
//! limit and optional TLS.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default listen address of the REST API.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:9001";
/// Default `[api] max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// `[api] auth`: whether the API requires a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// A bearer token: `token`, `token-file`, else the generated `<data-dir>/api-token`.
    #[default]
    Token,
    /// No authentication; refused unless the API listens on loopback only.
    None,
}

/// The `[api]` section of the configuration file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApiConfig {
    /// Address and port of the REST API.
    pub listen: SocketAddr,
    /// `"token"` (default) or `"none"` (loopback only).
    pub auth: AuthMode,
    /// Extra names accepted in the Host header (besides the listen addresses and `localhost`).
    pub hostnames: Vec<String>,
    /// Concurrent connections; more are closed at accept.
    pub max_connections: usize,
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
            auth: AuthMode::Token,
            hostnames: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
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
            .field("auth", &self.auth)
            .field("hostnames", &self.hostnames)
            .field("max_connections", &self.max_connections)
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
        "api: auth = \"none\" is refused because listen {0} is not a loopback address; \
         remove it (a token is generated) or listen on 127.0.0.1"
    )]
    OpenNonLoopback(SocketAddr),
    #[error("api: auth = \"none\" contradicts token / token-file; remove one")]
    NoneWithToken,
    #[error("api: max-connections must be at least 1")]
    NoConnections,
    #[error("api: cannot create or read the generated token file in {dir}: {source}")]
    Generated {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl ApiConfig {
    /// The configured token, read from `token` or `token-file` (`None` = neither is set).
    pub fn configured_token(&self) -> Result<Option<String>, ApiConfigError> {
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => return Err(ApiConfigError::TokenTwice),
            (Some(t), None) => t.trim().to_string(),
            (None, Some(path)) => {
                super::token_file::read_token(path).map_err(|source| ApiConfigError::TokenFile {
                    path: path.clone(),
                    source,
                })?
            }
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

    /// Checks everything that needs neither the network nor the data directory.
    pub fn validate(&self) -> Result<(), ApiConfigError> {
        let token = self.configured_token()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ApiConfigError::HalfTls);
        }
        if self.max_connections == 0 {
            return Err(ApiConfigError::NoConnections);
        }
        if self.auth == AuthMode::None {
            if token.is_some() {
                return Err(ApiConfigError::NoneWithToken);
            }
            if !self.listen.ip().is_loopback() {
                return Err(ApiConfigError::OpenNonLoopback(self.listen));
            }
        }
        Ok(())
    }

    /// Validates and returns the token to require: the configured one, else the one in
    /// `<data_dir>/api-token` (created on first use); `None` only with `auth = "none"`.
    pub fn resolve_token(&self, data_dir: &Path) -> Result<Option<String>, ApiConfigError> {
        self.validate()?;
        if self.auth == AuthMode::None {
            return Ok(None);
        }
        if let Some(token) = self.configured_token()? {
            return Ok(Some(token));
        }
        let token = super::token_file::load_or_create(data_dir).map_err(|source| {
            ApiConfigError::Generated {
                dir: data_dir.to_path_buf(),
                source,
            }
        })?;
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiConfigError::BadToken);
        }
        Ok(Some(token))
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
        assert_eq!(cfg.max_connections, 256);
        assert_eq!(cfg.auth, AuthMode::Token);
        let cfg: ApiConfig =
            toml::from_str("listen = \"0.0.0.0:8080\"\ntoken = \"s3cret\"\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            cfg.resolve_token(dir.path()).unwrap().as_deref(),
            Some("s3cret")
        );
        assert!(!dir.path().join("api-token").exists());
        assert!(!format!("{cfg:?}").contains("s3cret"));
        assert!(toml::from_str::<ApiConfig>("tokn = \"x\"").is_err());
        let cfg: ApiConfig =
            toml::from_str("auth = \"none\"\nhostnames = [\"dns.example\"]\nmax-connections = 8")
                .unwrap();
        assert_eq!(cfg.resolve_token(dir.path()).unwrap(), None);
        assert_eq!(cfg.hostnames, vec!["dns.example".to_string()]);
    }

    #[test]
    fn no_token_configured_generates_one() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ApiConfig {
            listen: "0.0.0.0:9001".parse().unwrap(),
            ..ApiConfig::default()
        };
        let token = cfg.resolve_token(dir.path()).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("api-token")).unwrap(),
            format!("{token}\n")
        );
        assert_eq!(cfg.resolve_token(dir.path()).unwrap(), Some(token));
    }

    #[test]
    fn rejects_unsafe_or_inconsistent_settings() {
        let open: ApiConfig = toml::from_str("listen = \"0.0.0.0:9001\"\nauth = \"none\"").unwrap();
        assert!(matches!(
            open.validate(),
            Err(ApiConfigError::OpenNonLoopback(_))
        ));
        let both: ApiConfig = toml::from_str("auth = \"none\"\ntoken = \"x\"").unwrap();
        assert!(matches!(
            both.validate(),
            Err(ApiConfigError::NoneWithToken)
        ));
        let zero: ApiConfig = toml::from_str("max-connections = 0").unwrap();
        assert!(zero.validate().is_err());
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
        assert_eq!(
            cfg.resolve_token(dir.path()).unwrap().as_deref(),
            Some("abc123")
        );
    }
}
