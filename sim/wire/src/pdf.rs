//! A minimal PDF 1.4 writer for the human-readable part of a Bestätigungsnachricht: the PDF
//! "mit einer inhaltsgleichen Darstellung der in den XML-Strukturen enthaltenen Informationen"
//! (PVD-IO §3.4.1).
//!
//! Plain text only: A4 pages, the standard font Helvetica with /WinAnsiEncoding so that German
//! umlauts and ß render without embedding a font (PDF 1.4 §5.5.5, Appendix D). Long lines are
//! wrapped by the Helvetica glyph widths; pages break as needed. The bytes are deterministic —
//! no creation date, no /ID, no compression — so that a confirmation can be compared byte for
//! byte and its hash reproduced. Characters outside WinAnsi are written as '?'.

/// A4 in points.
const PAGE_WIDTH: u32 = 595;
const PAGE_HEIGHT: u32 = 842;
const MARGIN: u32 = 56;
const FONT_SIZE: u32 = 10;
const LEADING: u32 = 13;

/// Renders `lines` (one paragraph per entry; empty entries are blank lines) into a PDF with
/// `title` in the document information dictionary.
pub fn text_pdf(title: &str, lines: &[String]) -> Vec<u8> {
    let max_width = (PAGE_WIDTH - 2 * MARGIN) * 1000 / FONT_SIZE;
    let mut wrapped: Vec<Vec<u8>> = Vec::new();
    for line in lines {
        wrapped.extend(wrap(&to_win_ansi(line), max_width));
    }
    let per_page = ((PAGE_HEIGHT - 2 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[Vec<u8>]> = if wrapped.is_empty() {
        vec![&[]]
    } else {
        wrapped.chunks(per_page).collect()
    };

    let mut w = Writer::default();
    w.out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let first_page = 5;
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", first_page + 2 * i))
        .collect();
    w.object(1, b"<< /Type /Catalog /Pages 2 0 R >>");
    w.object(
        2,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    w.object(
        3,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    );
    w.object(
        4,
        format!(
            "<< /Title {} /Producer (demail-testbed) >>",
            utf16_text_string(title)
        )
        .as_bytes(),
    );
    for (i, page) in pages.iter().enumerate() {
        let page_obj = first_page + 2 * i;
        let content_obj = page_obj + 1;
        w.object(
            page_obj,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {content_obj} 0 R >>"
            )
            .as_bytes(),
        );
        let mut content = format!(
            "BT\n/F1 {FONT_SIZE} Tf\n{LEADING} TL\n{MARGIN} {} Td\n",
            PAGE_HEIGHT - MARGIN - FONT_SIZE
        )
        .into_bytes();
        for (n, line) in page.iter().enumerate() {
            if n > 0 {
                content.extend_from_slice(b"T* ");
            }
            content.push(b'(');
            content.extend_from_slice(&escape_string(line));
            content.extend_from_slice(b") Tj\n");
        }
        content.extend_from_slice(b"ET\n");
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(&content);
        stream.extend_from_slice(b"\nendstream");
        w.object(content_obj, &stream);
    }
    w.finish()
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    /// Byte offset of object n at index n-1.
    offsets: Vec<usize>,
}

impl Writer {
    /// Objects are written in number order, so the offsets vector is indexed by number.
    fn object(&mut self, num: usize, body: &[u8]) {
        debug_assert_eq!(self.offsets.len() + 1, num);
        self.offsets.push(self.out.len());
        self.out
            .extend_from_slice(format!("{num} 0 obj\n").as_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    /// Cross-reference table with 20-byte entries and the trailer (PDF 1.4 §3.4.3–3.4.4).
    fn finish(mut self) -> Vec<u8> {
        let xref = self.out.len();
        let size = self.offsets.len() + 1;
        self.out
            .extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
        for off in &self.offsets {
            self.out
                .extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        self.out.extend_from_slice(
            format!(
                "trailer\n<< /Size {size} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            )
            .as_bytes(),
        );
        self.out
    }
}

/// Encodes text as WinAnsiEncoding bytes (PDF 1.4 Appendix D): Latin-1 range as is, the
/// typographic characters of 0x80–0x9F mapped, tabs as a space, everything else as '?'.
pub fn to_win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .map(|c| match c {
            '\t' => b' ',
            ' '..='~' | '\u{A0}'..='\u{FF}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => b'?',
        })
        .collect()
}

/// Helvetica glyph widths in 1/1000 em for 0x20..=0x7E (Adobe Helvetica AFM).
const ASCII_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // ' '..'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
    556, // '0'..'?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
    778, // '@'..'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, // 'P'..'_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
    556, // '`'..'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
];

fn glyph_width(b: u8) -> u32 {
    match b {
        0x20..=0x7E => u32::from(ASCII_WIDTHS[usize::from(b - 0x20)]),
        0xC4 | 0xD6 | 0xDC => 778, // Ä Ö Ü (at most O's width)
        0xDF => 611,               // ß
        0x85 | 0x89 | 0x97 | 0x8C | 0x99 => 1000,
        // Everything else is assumed as wide as 'M' so that wrapping never overflows.
        _ => 833,
    }
}

fn width(bytes: &[u8]) -> u32 {
    bytes.iter().map(|b| glyph_width(*b)).sum()
}

/// Wraps at spaces to fit `max` (1/1000 em); words longer than a line are broken by character.
fn wrap(line: &[u8], max: u32) -> Vec<Vec<u8>> {
    if line.is_empty() {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in line.split(|b| *b == b' ') {
        let sep = if current.is_empty() {
            0
        } else {
            glyph_width(b' ')
        };
        if width(&current) + sep + width(word) <= max {
            if !current.is_empty() {
                current.push(b' ');
            }
            current.extend_from_slice(word);
            continue;
        }
        if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        for &b in word {
            if width(&current) + glyph_width(b) > max && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.push(b);
        }
    }
    out.push(current);
    out
}

/// Escapes a PDF literal string: backslash, parentheses (PDF 1.4 §3.2.3).
fn escape_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if matches!(b, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// A text string as UTF-16BE with byte order mark, hex-encoded (PDF 1.4 §3.8.1).
fn utf16_text_string(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        hex.push_str(&format!("{unit:04X}"));
    }
    hex.push('>');
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    /// Parses the xref table and checks that every in-use entry points at "n 0 obj".
    fn check_xref(pdf: &[u8]) -> usize {
        let tail = std::str::from_utf8(&pdf[pdf.len() - 40..]).unwrap_or_default();
        let startxref: usize = tail
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[startxref..].starts_with(b"xref\n"));
        let table = std::str::from_utf8(&pdf[startxref..]).unwrap();
        let mut lines = table.split('\n').skip(1);
        let header = lines.next().unwrap();
        let count: usize = header.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(lines.next().unwrap(), "0000000000 65535 f ");
        for n in 1..count {
            let entry = lines.next().unwrap();
            assert_eq!(entry.len(), 19, "{entry:?}"); // plus "\n" = 20 bytes
            let off: usize = entry[..10].parse().unwrap();
            let expected = format!("{n} 0 obj\n");
            assert!(
                pdf[off..].starts_with(expected.as_bytes()),
                "xref entry {n} points at offset {off}"
            );
        }
        count
    }

    /// Header, xref offsets, WinAnsi umlauts, escaping and determinism.
    #[test]
    fn small_pdf_is_well_formed() {
        let lines = vec![
            "Eingangsbestätigung: Grüße aus Dresden-Löbtau (Straße)".to_string(),
            String::new(),
            "Ä Ö Ü ä ö ü ß € – „Zitat“ \\ Ende".to_string(),
        ];
        let pdf = text_pdf("Eingangsbestätigung", &lines);
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        assert_eq!(check_xref(&pdf), 7);
        assert!(find(&pdf, b"/Encoding /WinAnsiEncoding").is_some());
        assert!(find(&pdf, b"Gr\xFC\xDFe aus Dresden-L\xF6btau \\(Stra\xDFe\\)").is_some());
        assert!(
            find(
                &pdf,
                b"(\xC4 \xD6 \xDC \xE4 \xF6 \xFC \xDF \x80 \x96 \x84Zitat\x93 \\\\ Ende) Tj"
            )
            .is_some()
        );
        // "Eingangsbestätigung" as UTF-16BE in /Title.
        assert!(find(&pdf, b"/Title <FEFF0045").is_some());
        assert!(find(&pdf, b"00E4").is_some());
        assert_eq!(pdf, text_pdf("Eingangsbestätigung", &lines));
        // The stream length is exact.
        let s = find(&pdf, b"stream\n").unwrap() + 7;
        let e = find(&pdf, b"\nendstream").unwrap();
        let len_at = find(&pdf, b"/Length ").unwrap() + 8;
        let digits: Vec<u8> = pdf[len_at..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        let len: usize = String::from_utf8(digits).unwrap().parse().unwrap();
        assert_eq!(len, e - s);
    }

    /// Many and long lines wrap and break pages; an empty document still has one page.
    #[test]
    fn wrapping_and_pages() {
        let long = "W".repeat(300);
        let mut lines: Vec<String> = (0..120).map(|i| format!("Zeile {i}")).collect();
        lines.push(long);
        let pdf = text_pdf("t", &lines);
        let objects = check_xref(&pdf);
        assert_eq!(objects, 5 + 2 * 3); // 126 wrapped lines, 56 per page → 3 pages
        assert!(find(&pdf, b"/Count 3").is_some());
        for l in wrap(&[b'W'; 300], 48300) {
            assert!(width(&l) <= 48300);
        }
        let empty = text_pdf("leer", &[]);
        assert_eq!(check_xref(&empty), 7);
        assert!(find(&empty, b"/Count 1").is_some());
    }
}
