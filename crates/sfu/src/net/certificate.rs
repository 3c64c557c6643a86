//! The worker's DTLS certificate: generated (ECDSA P-256) or loaded from the files given in the
//! worker settings, with its fingerprints in the forms `dtlsParameters` announces.

use std::sync::Arc;

use rtc_dtls::crypto::Certificate;
use rtc_dtls::crypto_provider::SignatureScheme;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};

pub const FINGERPRINT_ALGORITHMS: [&str; 5] = ["sha-1", "sha-224", "sha-256", "sha-384", "sha-512"];

/// SDP-style fingerprint (`AB:CD:...`) of a DER certificate; `None` for an unknown algorithm.
pub fn fingerprint(algorithm: &str, der: &[u8]) -> Option<String> {
    use sha2::Digest;
    let digest: Vec<u8> = match algorithm.to_ascii_lowercase().as_str() {
        "sha-1" => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref().to_vec(),
        "sha-224" => sha2::Sha224::digest(der).to_vec(),
        "sha-256" => ring::digest::digest(&ring::digest::SHA256, der).as_ref().to_vec(),
        "sha-384" => ring::digest::digest(&ring::digest::SHA384, der).as_ref().to_vec(),
        "sha-512" => ring::digest::digest(&ring::digest::SHA512, der).as_ref().to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

pub struct LocalCertificate {
    pub certificate: Certificate,
    /// `[{ algorithm, value }]` for every algorithm, as mediasoup lists them.
    pub fingerprints: Value,
    /// The same as JSON text (every transport's creation answer carries it).
    pub fingerprints_json: String,
}

impl LocalCertificate {
    pub fn generate() -> Result<Arc<Self>, String> {
        let crypto = super::crypto().crypto();
        let certificate = Certificate::generate_self_signed_with_alg(
            vec!["ferrosoup".to_owned()],
            &rcgen::PKCS_ECDSA_P256_SHA256,
            crypto,
        )
        .map_err(|e| format!("cannot generate the DTLS certificate: {e}"))?;
        Ok(Arc::new(Self::with(certificate)))
    }

    /// From the PEM text of the worker's certificate files (read by the runtime; their names
    /// go into error messages): a certificate chain and an ECDSA P-256 key (PKCS#8
    /// `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`).
    pub fn from_pem(cert_file: &str, cert_pem: &str, key_file: &str, key_pem: &str) -> Result<Arc<Self>, String> {
        let chain: Vec<CertificateDer<'static>> = pem::parse_many(&cert_pem)
            .map_err(|e| format!("{cert_file}: {e}"))?
            .into_iter()
            .filter(|p| p.tag() == "CERTIFICATE")
            .map(|p| CertificateDer::from(p.into_contents()))
            .collect();
        if chain.is_empty() {
            return Err(format!("{cert_file}: no CERTIFICATE block"));
        }
        let key = pem::parse(&key_pem).map_err(|e| format!("{key_file}: {e}"))?;
        let pkcs8 = match key.tag() {
            "PRIVATE KEY" => key.contents().to_vec(),
            "EC PRIVATE KEY" => sec1_p256_to_pkcs8(key.contents()),
            t => return Err(format!("{key_file}: unsupported key type {t} (ECDSA P-256 only)")),
        };
        let crypto = super::crypto().crypto();
        let signing_key = crypto
            .import_signing_key(SignatureScheme::EcdsaP256Sha256, &pkcs8)
            .map_err(|e| format!("{key_file}: {e}"))?;
        Ok(Arc::new(Self::with(Certificate::from_signing_key(chain, signing_key))))
    }

    fn with(certificate: Certificate) -> Self {
        let der = certificate.certificate[0].as_ref().to_vec();
        let fingerprints = FINGERPRINT_ALGORITHMS
            .iter()
            .map(|alg| json!({ "algorithm": alg, "value": fingerprint(alg, &der) }))
            .collect();
        let fingerprints = Value::Array(fingerprints);
        let fingerprints_json = fingerprints.to_string();
        LocalCertificate { certificate, fingerprints, fingerprints_json }
    }
}

fn der_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8)
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8])
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8])
    }
}

/// Wraps a SEC1 P-256 private key in PKCS#8, the form the crypto provider imports.
fn sec1_p256_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // id-ecPublicKey
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // prime256v1
    ];
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&ALGORITHM);
    body.push(0x04);
    der_len(&mut body, sec1.len());
    body.extend_from_slice(sec1);
    let mut out = vec![0x30];
    der_len(&mut out, body.len());
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_has_all_fingerprints() {
        let c = LocalCertificate::generate().unwrap();
        let fps = c.fingerprints.as_array().unwrap();
        assert_eq!(fps.len(), 5);
        let lens: Vec<usize> = fps.iter().map(|f| f["value"].as_str().unwrap().len()).collect();
        // 20, 28, 32, 48, 64 bytes as "XX:" groups.
        assert_eq!(lens, vec![59, 83, 95, 143, 191]);
        assert!(fingerprint("md5", b"x").is_none());
    }

    #[test]
    fn loads_pem_and_round_trips() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let loaded = LocalCertificate::from_pem("c.pem", &cert_pem, "k.pem", &key_pem).unwrap();
        assert_eq!(
            loaded.fingerprints[2]["value"],
            json!(fingerprint("sha-256", cert.der().as_ref()).unwrap())
        );
        let e = LocalCertificate::from_pem("k.pem", &key_pem, "c.pem", &cert_pem).err().unwrap();
        assert!(e.starts_with("k.pem"), "{e}");
    }
}
