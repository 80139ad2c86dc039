//! TCP sequence numbers: 32-bit, compared modulo 2^32 (RFC 1982 style). No
//! raw `u32` arithmetic on sequence numbers happens anywhere else.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// `self + n` modulo 2^32.
    pub fn plus(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self`: positive when `self` is after.
    /// Sequence numbers do not have a discontinuity across the 2^32 wrap when
    /// compared pairwise this way.
    pub fn diff(self, other: Seq) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_holds_across_the_wrap() {
        let before = Seq(u32::MAX - 10);
        let after = before.plus(20);
        assert_eq!(after.0, 9);
        assert!(after > before);
        assert_eq!(after.diff(before), 20);
        assert_eq!(before.diff(after), -20);
    }
}
