//! Fault dice shared by the protocols' test harnesses (`#[path]`-included). Under shuttle the
//! dice are shuttle's own random source, recorded in the schedule, so a replay rolls the same
//! numbers; elsewhere each thread gets a fixed pseudo-random sequence (xorshift64), the same
//! on every run.

pub enum Dice {
    /// Shuttle's random source.
    #[cfg(shuttle)]
    Shuttle,
    /// xorshift64, seeded per thread.
    #[cfg_attr(shuttle, allow(dead_code))]
    Fixed(u64),
}

impl Dice {
    /// The dice of the harness thread numbered `thread`.
    pub fn for_thread(thread: u32) -> Dice {
        #[cfg(shuttle)]
        {
            let _ = thread;
            Dice::Shuttle
        }
        #[cfg(not(shuttle))]
        {
            Dice::Fixed(
                0x9E37_79B9_7F4A_7C15 ^ (u64::from(thread) + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            )
        }
    }

    /// A number in 0..1000.
    pub fn roll(&mut self) -> u32 {
        let x = match self {
            #[cfg(shuttle)]
            Dice::Shuttle => shuttle::rand::RngCore::next_u64(&mut shuttle::rand::thread_rng()),
            Dice::Fixed(state) => {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                *state
            }
        };
        (x % 1000) as u32
    }

    /// True with a chance of `per_mille` thousandths (no roll, so no schedule entry, when the
    /// chance is 0).
    #[allow(dead_code)]
    pub fn chance(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.roll() < per_mille
    }
}
