// Canvas rasterisation: coverage-weighted blending for discs and segments, stb_easy_font quads for text,
// and an atomic PNG write through stb_image_write.
#include "apps/canvas.h"

#include "tensor/io/atomic_file.h"
#include "tensor/error.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

// stb_easy_font is C written for brevity: unused static helpers and implicit conversions are expected there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

// Declarations only: libstb.so ships the implementation.
#include <stb/stb_image_write.h>

namespace swirl::app {
namespace {

constexpr int kGlyphCapHeight = 7;  // stb_easy_font draws capitals and digits on rows 0..6
constexpr int kRgb = 3;

// stb_easy_font indexes its tables by (c - 32), so anything outside printable ASCII must not reach it.
std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c != '\n' && (c < 32 || c > 126)) c = '?';
    }
    return out;
}

// The axis-aligned quads stb_easy_font emits for `text` laid out from the origin, scaled by `scale`.
std::vector<Rect> glyph_quads(std::string_view text, int scale) {
    std::string chars = printable(text);
    struct Vertex {
        float x, y, z;
        unsigned char rgba[4];
    };
    // stb documents ~270 bytes per character on average; 16 quads per character leaves ample room.
    std::vector<Vertex> vertices(chars.size() * 16 * 4 + 4);
    int quad_count = stb_easy_font_print(0.0f, 0.0f, chars.data(), nullptr, vertices.data(),
                                         static_cast<int>(vertices.size() * sizeof(Vertex)));
    std::vector<Rect> quads;
    quads.reserve(static_cast<std::size_t>(quad_count));
    for (int q = 0; q < quad_count; ++q) {
        const Vertex* corner = &vertices[static_cast<std::size_t>(q) * 4];
        // Corners 0 and 2 are opposite; the font works in whole pixels, so rounding is exact.
        quads.push_back(
            {static_cast<int>(std::lround(corner[0].x)) * scale, static_cast<int>(std::lround(corner[0].y)) * scale,
             static_cast<int>(std::lround(corner[2].x)) * scale, static_cast<int>(std::lround(corner[2].y)) * scale});
    }
    return quads;
}

float distance_to_segment(float px, float py, float x0, float y0, float x1, float y1) {
    float dx = x1 - x0;
    float dy = y1 - y0;
    float length_sq = dx * dx + dy * dy;
    float t = length_sq > 0.0f ? std::clamp(((px - x0) * dx + (py - y0) * dy) / length_sq, 0.0f, 1.0f) : 0.0f;
    return std::hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}

// Fraction of a pixel covered by a shape edge `distance` from its centre, for a shape of half-extent
// `half_width`: a linear ramp over one pixel is cheap and hides the staircase well enough for figures.
float edge_coverage(float distance, float half_width) { return std::clamp(half_width + 0.5f - distance, 0.0f, 1.0f); }

// stb_image_write's output, gathered in memory.
void append_to_string(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height), clip_{0, 0, width, height} {
    SWIRL_CHECK(width > 0 && height > 0, "Canvas size must be positive, got {}x{}", width, height);
    rgb_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * kRgb);
    for (std::size_t i = 0; i < rgb_.size(); i += kRgb) {
        rgb_[i] = background.r;
        rgb_[i + 1] = background.g;
        rgb_[i + 2] = background.b;
    }
}

std::size_t Canvas::offset(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * kRgb;
}

Color Canvas::pixel(int x, int y) const {
    SWIRL_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_, "pixel ({}, {}) is outside the {}x{} canvas", x, y,
                width_, height_);
    const std::uint8_t* p = &rgb_[offset(x, y)];
    return {p[0], p[1], p[2]};
}

void Canvas::set_clip(Rect clip) {
    clip_ = {std::max(clip.x0, 0), std::max(clip.y0, 0), std::min(clip.x1, width_), std::min(clip.y1, height_)};
}

void Canvas::clear_clip() { clip_ = {0, 0, width_, height_}; }

void Canvas::blend_pixel(int x, int y, Color color, float alpha) {
    if (x < clip_.x0 || x >= clip_.x1 || y < clip_.y0 || y >= clip_.y1 || alpha <= 0.0f) return;
    alpha = std::min(alpha, 1.0f);
    std::uint8_t* p = &rgb_[offset(x, y)];
    auto mix = [alpha](std::uint8_t dst, std::uint8_t src) {
        return static_cast<std::uint8_t>(
            std::lround(static_cast<float>(dst) + (static_cast<float>(src) - dst) * alpha));
    };
    p[0] = mix(p[0], color.r);
    p[1] = mix(p[1], color.g);
    p[2] = mix(p[2], color.b);
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Color color) {
    for (int y = std::max(y0, clip_.y0); y < std::min(y1, clip_.y1); ++y) {
        for (int x = std::max(x0, clip_.x0); x < std::min(x1, clip_.x1); ++x) blend_pixel(x, y, color, 1.0f);
    }
}

void Canvas::blend_point(float px, float py, Color color, float alpha, float radius) {
    int x_first = static_cast<int>(std::floor(px - radius - 1.0f));
    int x_last = static_cast<int>(std::ceil(px + radius + 1.0f));
    int y_first = static_cast<int>(std::floor(py - radius - 1.0f));
    int y_last = static_cast<int>(std::ceil(py + radius + 1.0f));
    for (int y = std::max(y_first, clip_.y0); y <= std::min(y_last, clip_.y1 - 1); ++y) {
        for (int x = std::max(x_first, clip_.x0); x <= std::min(x_last, clip_.x1 - 1); ++x) {
            float distance = std::hypot(static_cast<float>(x) + 0.5f - px, static_cast<float>(y) + 0.5f - py);
            blend_pixel(x, y, color, alpha * edge_coverage(distance, radius));
        }
    }
}

void Canvas::line(float x0, float y0, float x1, float y1, Color color, float width) {
    float half_width = width / 2.0f;
    float reach = half_width + 1.0f;
    int x_first = static_cast<int>(std::floor(std::min(x0, x1) - reach));
    int x_last = static_cast<int>(std::ceil(std::max(x0, x1) + reach));
    int y_first = static_cast<int>(std::floor(std::min(y0, y1) - reach));
    int y_last = static_cast<int>(std::ceil(std::max(y0, y1) + reach));
    for (int y = std::max(y_first, clip_.y0); y <= std::min(y_last, clip_.y1 - 1); ++y) {
        for (int x = std::max(x_first, clip_.x0); x <= std::min(x_last, clip_.x1 - 1); ++x) {
            float distance =
                distance_to_segment(static_cast<float>(x) + 0.5f, static_cast<float>(y) + 0.5f, x0, y0, x1, y1);
            blend_pixel(x, y, color, edge_coverage(distance, half_width));
        }
    }
}

void Canvas::text(int x, int y, std::string_view text, Color color, int scale) {
    for (const Rect& q : glyph_quads(text, scale)) fill_rect(x + q.x0, y + q.y0, x + q.x1, y + q.y1, color);
}

void Canvas::text_vertical(int x, int y, std::string_view text, Color color, int scale) {
    // Turning counter-clockwise maps a glyph point (gx, gy) to (x + gy, y - gx).
    for (const Rect& q : glyph_quads(text, scale)) fill_rect(x + q.y0, y - q.x1, x + q.y1, y - q.x0, color);
}

int Canvas::text_width(std::string_view text, int scale) {
    std::string chars = printable(text);
    return stb_easy_font_width(chars.data()) * scale;
}

int Canvas::text_height(int scale) { return kGlyphCapHeight * scale; }

void Canvas::write_png(const std::string& path) const {
    std::string png;
    const int encoded = stbi_write_png_to_func(append_to_string, &png, width_, height_, kRgb, rgb_.data(), width_ * kRgb);
    SWIRL_CHECK(encoded != 0, "cannot encode PNG '{}' ({}x{})", path, width_, height_);
    write_file_atomically(path, {png});
}

}  // namespace swirl::app
