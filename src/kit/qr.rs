//! QR codes for start links, as SVG (for print, any size) and PNG (for slides and messages),
//! each with the four-module quiet zone that scanners need around the code.

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code on every side: the QR standard asks for four.
const QUIET_ZONE: usize = 4;
/// Pixels per module in a PNG: about 300 pixels for a typical link, sharp on a slide.
const PNG_SCALE: usize = 8;

/// A QR code failed to build: the text is longer than a QR code holds.
#[derive(Debug, thiserror::Error)]
#[error("{0} is too long for a QR code")]
pub struct TooLong(String);

fn code(url: &str) -> Result<QrCode, TooLong> {
    // Medium error correction: survives a crease or a smudge on a poster, and keeps the
    // modules large enough to scan from across a room.
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|_| TooLong(url.to_owned()))
}

/// The code as an SVG document without an XML declaration, so it can go inline in HTML too.
pub fn svg(url: &str) -> Result<String, TooLong> {
    let svg = code(url)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(8, 8)
        .build();
    Ok(match svg.find("<svg") {
        Some(at) => svg[at..].to_owned(),
        None => svg,
    })
}

/// The code as a black-and-white PNG.
pub fn png(url: &str) -> Result<Vec<u8>, TooLong> {
    let code = code(url)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Light {
            continue;
        }
        let (x, y) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for row in y * PNG_SCALE..(y + 1) * PNG_SCALE {
            let start = row * side + x * PNG_SCALE;
            pixels[start..start + PNG_SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).expect("a QR code is at most 177 modules wide");
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels));
    written.expect("a PNG of the right size writes into memory");
    Ok(out)
}
