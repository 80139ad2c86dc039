//! Big-endian (network order) field readers shared by the wire parsers:
//! bounds-checked, so a cut packet or record is `None`, never a panic.

/// The u16 at `at`, `None` when `b` ends first.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The u24 at `at` (TLS handshake and certificate lengths), `None` when `b` ends first.
pub fn u24_at(b: &[u8], at: usize) -> Option<usize> {
    let x = b.get(at..at.checked_add(3)?)?;
    Some((usize::from(x[0]) << 16) | (usize::from(x[1]) << 8) | usize::from(x[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_network_order() {
        let b = [0x01, 0x02, 0x03, 0x04];
        assert_eq!(u16_at(&b, 0), Some(0x0102));
        assert_eq!(u16_at(&b, 2), Some(0x0304));
        assert_eq!(u24_at(&b, 1), Some(0x02_0304));
    }

    #[test]
    fn a_field_past_the_end_is_none() {
        let b = [0xff; 4];
        assert_eq!(u16_at(&b, 3), None);
        assert_eq!(u24_at(&b, 2), None);
        assert_eq!(u24_at(&b, usize::MAX), None);
        assert_eq!(u16_at(&[], 0), None);
    }
}
