//! Generators of the benchmark inputs: a JPEG of noise with an EXIF segment, and a PDF with a
//! large FlateDecode stream of random bytes. Both are about 10 MB.

/// A xorshift64 generator: fast, deterministic noise, so every run measures the same bytes.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let word = self.0.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Encodes `width` × `height` RGB noise at quality 90 and inserts an APP1 EXIF segment with GPS
/// tags after SOI, so cleaning has a segment to drop.
pub fn noisy_jpeg_with_exif(width: u16, height: u16) -> Vec<u8> {
    let mut pixels = vec![0; usize::from(width) * usize::from(height) * 3];
    Noise(0x9E37_79B9_7F4A_7C15).fill(&mut pixels);

    let mut encoded = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut encoded, 90);
    if let Err(error) = encoder.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb) {
        panic!("encoding the benchmark JPEG failed: {error}");
    }

    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
    exif.extend_from_slice(&b"GPSLatitude=51.500729N;GPSLongitude=0.124625W;".repeat(64));
    let Ok(length) = u16::try_from(exif.len() + 2) else {
        panic!("the EXIF segment is too long");
    };
    let mut jpeg = encoded[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&length.to_be_bytes());
    jpeg.extend_from_slice(&exif);
    jpeg.extend_from_slice(&encoded[2..]);
    jpeg
}

/// Builds a one-page PDF whose page draws an image XObject: a FlateDecode stream of
/// `image_len` random bytes, which deflate cannot shrink.
pub fn pdf_with_large_stream(image_len: usize) -> Vec<u8> {
    let mut image = vec![0; image_len];
    Noise(0xD1B5_4A32_D192_ED03).fill(&mut image);
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&image, 1);

    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |pdf: &mut Vec<u8>, body: &[u8]| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    };
    object(&mut pdf, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut pdf, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut pdf,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
          /Resources << /XObject << /Im1 5 0 R >> >> >>",
    );
    let content = b"q 612 0 0 792 0 0 cm /Im1 Do Q";
    let mut content_stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    content_stream.extend_from_slice(content);
    content_stream.extend_from_slice(b"\nendstream");
    object(&mut pdf, &content_stream);

    let side = (image_len / 3).isqrt();
    let mut image_stream = format!(
        "<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceRGB \
         /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>\nstream\n",
        compressed.len()
    )
    .into_bytes();
    image_stream.extend_from_slice(&compressed);
    image_stream.extend_from_slice(b"\nendstream");
    object(&mut pdf, &image_stream);

    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
