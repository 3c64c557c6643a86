//! The random source for everything ferrosoup picks itself: SSRCs, ICE credentials, initial
//! sequence numbers, SRTP master keys of pipes, ports to try. One per engine, seeded by the
//! runtime from the OS (or by a test, for repeatable scenarios). Third-party crates (DTLS,
//! certificates) keep their own randomness.
//!
//! Hash-DRBG style: SHA-256 over (seed, counter), so output is unpredictable without the seed.

use sha2::{Digest, Sha256};

pub struct Rng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Rng {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Rng { seed, counter: 0, block: [0; 32], used: 32 }
    }

    /// Seeded from the operating system's random source.
    pub fn from_os() -> Self {
        let mut seed = [0u8; 32];
        super::crypto().random().fill(&mut seed).expect("OS randomness");
        Self::from_seed(seed)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_le_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *b = self.block[self.used];
            self.used += 1;
        }
    }

    pub fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    pub fn u16(&mut self) -> u16 {
        self.u32() as u16
    }

    /// mediasoup's SSRCs: 100000000..=999999999.
    pub fn ssrc(&mut self) -> u32 {
        100_000_000 + self.u32() % 900_000_000
    }

    /// Lowercase letters and digits (valid ICE characters).
    pub fn string(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = vec![0u8; len];
        self.fill(&mut bytes);
        bytes.iter().map(|b| CHARS[*b as usize % CHARS.len()] as char).collect()
    }

    /// A generator for another owner (a test peer, a transport), seeded from this one.
    pub fn fork(&mut self) -> Rng {
        let mut seed = [0u8; 32];
        self.fill(&mut seed);
        Rng::from_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeatable_from_a_seed_and_in_range() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = Rng::from_seed([7; 32]);
        let xs: Vec<u32> = (0..100).map(|_| a.ssrc()).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.ssrc()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|s| (100_000_000..=999_999_999).contains(s)));
        assert_ne!(Rng::from_seed([8; 32]).u32(), Rng::from_seed([7; 32]).u32());
        let s = a.string(16);
        assert_eq!(s.len(), 16);
        assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
