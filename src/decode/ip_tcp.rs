//! IP + TCP.
use super::{DecodeError, Segment};
use crate::capture::Frame;
pub fn decode<'a>(_frame: &Frame<'a>) -> Result<Segment<'a>, DecodeError> {
    Err(DecodeError::NotTcp)
}
