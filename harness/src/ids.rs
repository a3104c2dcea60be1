//! Seeded ids: the agent's [`IdSource`] under simulation. Ids are UUIDv4
//! strings drawn from the run's `ids` stream, so the same seed names the
//! same processes in the same order.

use parking_lot::Mutex;

use agent::seams::IdSource;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// UUIDv4 strings from a seeded stream.
pub struct SeededIds {
    rng: Mutex<ChaCha8Rng>,
}

impl SeededIds {
    pub fn new(rng: ChaCha8Rng) -> Self {
        SeededIds {
            rng: Mutex::new(rng),
        }
    }

    /// The next id as a [`uuid::Uuid`].
    pub fn next_uuid(&self) -> uuid::Uuid {
        let bytes: [u8; 16] = self.rng.lock().random();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl IdSource for SeededIds {
    fn next_id(&self) -> String {
        self.next_uuid().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    #[test]
    fn ids_are_v4_uuids_determined_by_the_seed() {
        let a = SeededIds::new(Seed(5).rng("ids"));
        let b = SeededIds::new(Seed(5).rng("ids"));
        let first = a.next_id();
        assert_eq!(first, b.next_id());
        assert_ne!(first, a.next_id());
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
