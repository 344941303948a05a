//! TLS to PostgreSQL with rustls (ring), following libpq's `sslmode`:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | – |
//! | `prefer` (libpq's default) | when the server offers TLS | only against a CA file, if one is given |
//! | `require` | always | only against a CA file, if one is given (then as `verify-ca`) |
//! | `verify-ca` | always | signed by the CA file, or by a public root CA without one |
//! | `verify-full` | always | as `verify-ca`, and issued for the host connected to |
//!
//! Without a CA file, `verify-ca` and `verify-full` trust the public root CAs
//! compiled into askgate (Mozilla's list, from `webpki-roots`): the certificates
//! of managed services such as Supabase and Azure Database for PostgreSQL chain
//! to them.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

/// libpq's `sslmode`, as written in a `DATABASE_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, plain text otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked unless a CA file is given.
    Require,
    /// TLS, with a certificate signed by a trusted CA (any host name).
    VerifyCa,
    /// TLS, with a certificate signed by a trusted CA and issued for the host.
    VerifyFull,
}

impl SslMode {
    /// The value as written in a URL.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether a connection in this mode is always encrypted.
    #[must_use]
    pub const fn always_encrypts(self) -> bool {
        matches!(self, Self::Require | Self::VerifyCa | Self::VerifyFull)
    }

    /// What the driver, which knows only disable/prefer/require, is told.
    pub(crate) const fn driver_mode(self) -> tokio_postgres::config::SslMode {
        match self {
            Self::Disable => tokio_postgres::config::SslMode::Disable,
            Self::Prefer => tokio_postgres::config::SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `sslmode` askgate does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sslmode '{0}' is not one of disable, prefer, require, verify-ca, verify-full")]
pub struct UnknownSslMode(String);

impl FromStr for SslMode {
    type Err = UnknownSslMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(UnknownSslMode(other.chars().take(40).collect())),
        }
    }
}

/// How connections are encrypted, beyond what the URL says.
#[derive(Debug, Clone, Default)]
pub struct PgTls {
    /// The `sslmode` when the URL names none (libpq's default is `prefer`).
    pub default_mode: SslMode,
    /// A PEM file of the CA certificates to trust instead of the public roots.
    pub ca_cert: Option<PathBuf>,
}

/// The `sslmode` a connection string names, and the string without it (the
/// driver would refuse `verify-ca` and `verify-full`). Works on URLs
/// (`postgres://…?sslmode=require`) and on libpq's `key=value` form; the last
/// `sslmode` wins, as in libpq.
pub(crate) fn take_ssl_mode(url: &str) -> Result<(String, Option<SslMode>), UnknownSslMode> {
    let (rest, raw) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        take_from_url(url)
    } else {
        take_from_key_values(url)
    };
    let mode = raw.map(|raw| raw.parse()).transpose()?;
    Ok((rest, mode))
}

/// The `sslmode` of a URL, if it names one.
pub fn ssl_mode_of(url: &str) -> Result<Option<SslMode>, UnknownSslMode> {
    take_ssl_mode(url).map(|(_, mode)| mode)
}

fn take_from_url(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut mode = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key == "sslmode" {
                mode = Some(value.to_owned());
                false
            } else {
                true
            }
        })
        .collect();
    if kept.iter().all(|pair| pair.is_empty()) {
        (base.to_owned(), mode)
    } else {
        (format!("{base}?{}", kept.join("&")), mode)
    }
}

/// libpq's `key = value` pairs, values optionally in single quotes with
/// backslash escapes. Returns the text unchanged when it does not scan, so the
/// driver reports the problem.
fn take_from_key_values(text: &str) -> (String, Option<String>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut mode = None;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &text[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if key.is_empty() {
            break;
        }
        if bytes.get(i) != Some(&b'=') {
            return (text.to_owned(), None);
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return (text.to_owned(), None),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < bytes.len() => {
                        value.push(char::from(bytes[i + 1]));
                        i += 2;
                    }
                    Some(&b) => {
                        value.push(char::from(b));
                        i += 1;
                    }
                }
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                value.push(char::from(bytes[i]));
                i += 1;
            }
        }
        if key == "sslmode" {
            mode = Some(value);
        } else {
            out.push_str(&text[start..i]);
        }
    }
    (out.trim().to_owned(), mode)
}

/// Checks that `path` is a PEM file holding at least one certificate, for
/// start-up checks; the reason in one line otherwise.
pub fn check_ca_file(path: &Path) -> Result<(), String> {
    read_ca_file(path).map(drop)
}

/// Reads the certificates of a PEM file; fails unless it holds at least one.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error_reason(path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error_reason(path, &e))?;
    if certificates.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certificates)
}

fn pem_error_reason(path: &Path, error: &rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read {}: {e}", path.display()),
        other => format!("{} is not a PEM file: {other}", path.display()),
    }
}

/// Makes the TLS sessions of one database configuration; cheap to clone.
#[derive(Clone)]
pub(crate) struct Tls {
    config: Arc<ClientConfig>,
    /// Which CAs are trusted, for messages.
    trusted: Arc<str>,
}

impl Tls {
    /// The rustls configuration for `mode`, reading the CA file if any.
    pub(crate) fn new(mode: SslMode, ca_cert: Option<&Path>) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check_chain = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull)
            || (ca_cert.is_some() && matches!(mode, SslMode::Prefer | SslMode::Require));
        let (verifier, trusted): (Arc<dyn ServerCertVerifier>, String) = if check_chain {
            let mut roots = RootCertStore::empty();
            let trusted = if let Some(path) = ca_cert {
                for certificate in read_ca_file(path)? {
                    roots.add(certificate).map_err(|e| {
                        format!(
                            "{} holds a certificate that cannot be used: {e}",
                            path.display()
                        )
                    })?;
                }
                format!("the CA certificates in {}", path.display())
            } else {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                "the public root CAs".to_owned()
            };
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| format!("cannot set up certificate checks: {e}"))?;
            let verifier: Arc<dyn ServerCertVerifier> = if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(AnyHostName(webpki))
            };
            (verifier, trusted)
        } else {
            (
                Arc::new(Unchecked(Arc::clone(&provider))),
                "any certificate".to_owned(),
            )
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            trusted: trusted.into(),
        })
    }
}

/// `verify-ca`: the chain must lead to a trusted CA, the host name is not checked.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The name is checked after the chain: a name error means the chain passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer`/`require` without a CA file (libpq's meaning): encrypted, but any
/// certificate is accepted, so an attacker on the path could still listen in.
/// The handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a TLS session could not be set up, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TlsError(String);

impl MakeTlsConnect<Socket> for Tls {
    type Stream = TlsStream;
    type TlsConnect = Connector;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connector, TlsError> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|_| TlsError(format!("'{domain}' is not a host name TLS can check")))?;
        Ok(Connector {
            tls: self.clone(),
            host: domain.to_owned(),
            name,
        })
    }
}

/// One TLS handshake with the host `name`.
pub(crate) struct Connector {
    tls: Tls,
    host: String,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for Connector {
    type Stream = TlsStream;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream, TlsError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls.config));
            connector
                .connect(self.name, stream)
                .await
                .map(TlsStream)
                .map_err(|e| TlsError(handshake_error_reason(&e, &self.host, &self.tls.trusted)))
        })
    }
}

/// "the server's certificate is not signed by …" rather than `UnknownIssuer`.
fn handshake_error_reason(error: &io::Error, host: &str, trusted: &str) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS handshake failed: {error}");
    };
    match tls {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => format!(
                "the server's TLS certificate is not signed by a trusted CA (trusted: {trusted})"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the server's TLS certificate is not issued for host '{host}'")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's TLS certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's TLS certificate is not valid yet".to_owned()
            }
            other => format!("the server's TLS certificate was refused: {other:?}"),
        },
        other => format!("TLS handshake failed: {other}"),
    }
}

/// An encrypted connection to the server.
pub(crate) struct TlsStream(tokio_rustls::client::TlsStream<Socket>);

impl tokio_postgres::tls::TlsStream for TlsStream {
    /// `tls-server-end-point` (RFC 5929): lets SCRAM authentication prove that
    /// no one between askgate and the server replaced the certificate.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| server_end_point(leaf.as_ref()))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// The hash of the certificate with the hash function of its signature
/// (SHA-256 for MD5 and SHA-1), or `None` when the algorithm defines none.
fn server_end_point(der: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;

    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm
    // SEQUENCE { algorithm OID, ... }, signature BIT STRING }
    let (certificate, _) = der_element(der, 0x30)?;
    let (_, after_tbs) = der_element(certificate, 0x30)?;
    let (algorithm, _) = der_element(after_tbs, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let hash = match oid {
        // md5, sha1, sha256 WithRSAEncryption; ecdsa-with-SHA1, -SHA256
        [rest @ .., 0x04 | 0x05 | 0x0b] if rest == RSA => 256,
        [rest @ .., 0x01] if rest == ECDSA => 256,
        [rest @ .., 0x03, 0x02] if rest == ECDSA => 256,
        [rest @ .., 0x0c] if rest == RSA => 384,
        [rest @ .., 0x03, 0x03] if rest == ECDSA => 384,
        [rest @ .., 0x0d] if rest == RSA => 512,
        [rest @ .., 0x03, 0x04] if rest == ECDSA => 512,
        _ => return None,
    };
    Some(match hash {
        256 => sha2::Sha256::digest(der).to_vec(),
        384 => sha2::Sha384::digest(der).to_vec(),
        _ => sha2::Sha512::digest(der).to_vec(),
    })
}

/// The contents of the DER element with `tag` at the start of `input`, and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&length, rest) = rest.split_first()?;
    let (length, rest) = if length < 0x80 {
        (usize::from(length), rest)
    } else {
        let count = usize::from(length & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (digits, rest) = rest.split_at(count);
        let length = digits
            .iter()
            .fold(0usize, |acc, &d| (acc << 8) | usize::from(d));
        (length, rest)
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_taken_out_of_urls_and_key_value_strings() {
        let (rest, mode) =
            take_ssl_mode("postgres://u:p@db.example.com:5432/app?sslmode=verify-full").unwrap();
        assert_eq!(rest, "postgres://u:p@db.example.com:5432/app");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        let (rest, mode) =
            take_ssl_mode("postgres://h/db?application_name=x&sslmode=require&connect_timeout=3")
                .unwrap();
        assert_eq!(rest, "postgres://h/db?application_name=x&connect_timeout=3");
        assert_eq!(mode, Some(SslMode::Require));
        let (rest, mode) = take_ssl_mode("postgres://h/db").unwrap();
        assert_eq!((rest.as_str(), mode), ("postgres://h/db", None));
        let (rest, mode) =
            take_ssl_mode("host=db user=u password='a b\\'c' sslmode = verify-ca dbname=x")
                .unwrap();
        assert_eq!(rest, "host=db user=u password='a b\\'c' dbname=x");
        assert_eq!(mode, Some(SslMode::VerifyCa));
        assert!(take_ssl_mode("postgres://h/db?sslmode=allow").is_err());
        assert!(take_ssl_mode("postgres://h/db?sslmode=").is_err());
    }

    #[test]
    fn the_last_sslmode_wins_as_in_libpq() {
        let (_, mode) = take_ssl_mode("postgres://h/db?sslmode=disable&sslmode=require").unwrap();
        assert_eq!(mode, Some(SslMode::Require));
    }
}
