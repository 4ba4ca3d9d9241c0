// Canvas: a small 8-bit RGB raster with alpha-blended primitives and bitmap text, just enough to render
// training figures to PNG without a plotting dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace swirl::app {

struct Color {
    std::uint8_t r, g, b;
    bool operator==(const Color&) const = default;
};

inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kBlack{0, 0, 0};

// A pixel rectangle, half-open: [x0, x1) x [y0, y1).
struct Rect {
    int x0, y0, x1, y1;
};

// Pixel (x, y) covers [x, x+1) x [y, y+1), so its centre is (x + 0.5, y + 0.5); y grows downwards.
// Every primitive is clipped to the image and to the clip rectangle, so callers may draw past the edges.
class Canvas {
public:
    Canvas(int width, int height, Color background = kWhite);

    int width() const { return width_; }
    int height() const { return height_; }
    Color pixel(int x, int y) const;

    // Restricts all later drawing to `clip` (intersected with the image), e.g. to keep markers inside a frame.
    void set_clip(Rect clip);
    void clear_clip();

    // Opaque fill of [x0, x1) x [y0, y1).
    void fill_rect(int x0, int y0, int x1, int y1, Color color);
    // A filled disc blended over the canvas with opacity `alpha`; its rim is anti-aliased over one pixel.
    void blend_point(float px, float py, Color color, float alpha, float radius);
    // An anti-aliased segment with round caps.
    void line(float x0, float y0, float x1, float y1, Color color, float width = 1.0f);

    // stb_easy_font text with its top-left corner at (x, y); glyphs are 7 * scale pixels tall (descenders
    // reach 9 * scale). Characters outside printable ASCII are drawn as '?'; '\n' starts a new line.
    void text(int x, int y, std::string_view text, Color color, int scale = 1);
    // The same text turned 90 degrees counter-clockwise, reading upwards from (x, y): it occupies
    // [x, x + text_height) horizontally and [y - text_width, y) vertically. Used for y-axis labels.
    void text_vertical(int x, int y, std::string_view text, Color color, int scale = 1);
    static int text_width(std::string_view text, int scale = 1);
    static int text_height(int scale = 1);  // cap height, without descenders

    // Writes atomically (write_file_atomically, tensor/io/atomic_file.h): readers never see a half-written file.
    // Throws swirl::Error on any failure and leaves no temporary file behind.
    void write_png(const std::string& path) const;

private:
    std::size_t offset(int x, int y) const;  // of pixel (x, y)'s red byte in rgb_
    void blend_pixel(int x, int y, Color color, float alpha);

    int width_;
    int height_;
    Rect clip_;
    std::vector<std::uint8_t> rgb_;
};

}  // namespace swirl::app
