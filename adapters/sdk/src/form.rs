//! Multipart form parts, outbound and in callbacks.

use crate::FormPart;

/// A text field.
pub fn text(name: &str, value: &str) -> FormPart {
    FormPart {
        name: name.into(),
        filename: None,
        content_type: None,
        data: value.as_bytes().to_vec(),
    }
}

/// A file field.
pub fn file(name: &str, filename: &str, content_type: &str, data: Vec<u8>) -> FormPart {
    FormPart {
        name: name.into(),
        filename: Some(filename.into()),
        content_type: Some(content_type.into()),
        data,
    }
}

/// The first part called `name`.
pub fn part<'a>(parts: &'a [FormPart], name: &str) -> Option<&'a FormPart> {
    parts.iter().find(|p| p.name == name)
}

/// The text of the first part called `name`, trimmed; none when absent or not UTF-8.
pub fn text_of(parts: &[FormPart], name: &str) -> Option<String> {
    part(parts, name)
        .and_then(|p| std::str::from_utf8(&p.data).ok())
        .map(|s| s.trim().to_string())
}

/// True when the bytes are a PDF (they start with `%PDF-`).
pub fn is_pdf(data: &[u8]) -> bool {
    data.starts_with(b"%PDF-")
}
