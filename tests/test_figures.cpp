// Tests for apps/canvas and apps/figures: blending arithmetic, atomic PNG writes, and figures read back from
// disk to check that they hold what was drawn.
#include "apps/canvas.h"
#include "apps/figures.h"
#include "tensor/io/atomic_file.h"
#include "tensor/error.h"

#include <doctest/doctest.h>
#include <stb/stb_image.h>  // declarations only: libstb.so provides stbi_load

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using swirl::app::Canvas;
using swirl::app::Color;
using swirl::app::PointSet;
using swirl::app::Rect;

// A fresh directory per test, removed afterwards so repeated runs never see each other's files.
class TempDir {
public:
    TempDir() : path_(fs::temp_directory_path() / ("swirl_test_figures_" + std::to_string(std::random_device{}()))) {
        fs::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

struct Image {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;

    Color at(int x, int y) const {
        const std::uint8_t* p =
            &rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3];
        return {p[0], p[1], p[2]};
    }
};

Image load_png(const std::string& path) {
    Image image;
    int channels = 0;
    unsigned char* data = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
    REQUIRE_MESSAGE(data != nullptr, "stbi_load failed for ", path);
    image.rgb.assign(data, data + static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3);
    stbi_image_free(data);
    return image;
}

// Repeated blending with alpha < 1 converges on the colour, up to 8-bit rounding.
bool close_to(Color actual, Color expected, int tolerance = 4) {
    return std::abs(actual.r - expected.r) <= tolerance && std::abs(actual.g - expected.g) <= tolerance &&
           std::abs(actual.b - expected.b) <= tolerance;
}

PointSet cluster_at(float x, float y, int count) {
    PointSet points;
    for (int i = 0; i < count; ++i) points.xy.insert(points.xy.end(), {x, y});
    return points;
}

// Pixels that reached `color` in the top and bottom halves of the image.
std::pair<int, int> count_by_half(const Image& image, Color color) {
    int top = 0;
    int bottom = 0;
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            if (close_to(image.at(x, y), color)) ++(y < image.height / 2 ? top : bottom);
        }
    }
    return {top, bottom};
}

constexpr Color kWhite{255, 255, 255};
constexpr Color kForwardBlue{31, 119, 180};
constexpr Color kSampleRed{214, 39, 40};

}  // namespace

TEST_CASE("Canvas::blend_point mixes towards the colour by alpha times coverage") {
    Canvas canvas(20, 20);
    canvas.blend_point(10.5f, 10.5f, {0, 0, 0}, 0.25f, 2.0f);
    CHECK(canvas.pixel(10, 10) == Color{191, 191, 191});  // 255 * 0.75 = 191.25
    CHECK(canvas.pixel(12, 10) == Color{223, 223, 223});  // on the rim: half covered, 255 * (1 - 0.125)
    CHECK(canvas.pixel(0, 0) == kWhite);

    canvas.blend_point(10.5f, 10.5f, {0, 0, 0}, 0.25f, 2.0f);
    CHECK(canvas.pixel(10, 10) == Color{143, 143, 143});  // 191 * 0.75 = 143.25
}

TEST_CASE("Canvas drawing respects the clip rectangle and the image bounds") {
    Canvas canvas(10, 10, {0, 0, 0});
    canvas.set_clip({0, 0, 5, 10});
    canvas.fill_rect(-3, -3, 30, 30, kWhite);
    CHECK(canvas.pixel(4, 9) == kWhite);
    CHECK(canvas.pixel(5, 0) == Color{0, 0, 0});
    canvas.clear_clip();
    canvas.line(0.5f, 0.5f, 9.5f, 0.5f, kWhite, 1.0f);
    CHECK(canvas.pixel(9, 0) == kWhite);
    CHECK_THROWS_AS(canvas.pixel(10, 0), swirl::Error);
}

TEST_CASE("Canvas::text inks pixels inside its box and scales its width") {
    Canvas canvas(60, 30);
    canvas.text(2, 2, "A\xff", {0, 0, 0}, 2);  // the byte outside ASCII is drawn as '?', not read past the font
    Rect inked{60, 30, 0, 0};
    for (int y = 0; y < 30; ++y) {
        for (int x = 0; x < 60; ++x) {
            if (canvas.pixel(x, y) != Color{0, 0, 0}) continue;
            inked = {std::min(inked.x0, x), std::min(inked.y0, y), std::max(inked.x1, x + 1),
                     std::max(inked.y1, y + 1)};
        }
    }
    CHECK(inked.x0 >= 2);
    CHECK(inked.y0 >= 2);
    CHECK(inked.x1 <= 2 + Canvas::text_width("A?", 2));
    CHECK(inked.y1 <= 2 + Canvas::text_height(2));
    CHECK(Canvas::text_width("t=T/2", 3) == 3 * Canvas::text_width("t=T/2", 1));
}

TEST_CASE("Canvas::write_png leaves either the whole file or nothing") {
    TempDir dir;
    Canvas canvas(8, 4, kSampleRed);

    std::string good = dir.file("ok.png");
    canvas.write_png(good);
    CHECK_FALSE(fs::exists(swirl::atomic_temp_path(good)));
    Image image = load_png(good);
    CHECK(image.width == 8);
    CHECK(image.height == 4);
    CHECK(image.at(7, 3) == kSampleRed);

    std::string no_directory = dir.file("missing/figure.png");
    CHECK_THROWS_AS(canvas.write_png(no_directory), swirl::Error);
    CHECK_FALSE(fs::exists(swirl::atomic_temp_path(no_directory)));

    // The temporary file is written, but renaming it over a directory fails: it must be cleaned up.
    std::string occupied = dir.file("occupied");
    fs::create_directory(occupied);
    CHECK_THROWS_AS(canvas.write_png(occupied), swirl::Error);
    CHECK_FALSE(fs::exists(swirl::atomic_temp_path(occupied)));
}

TEST_CASE("draw_diffusion_grid draws q in blue on top and p in red below") {
    TempDir dir;
    std::string path = dir.file("grid.png");
    std::array<PointSet, 3> forward{cluster_at(1, 1, 500), cluster_at(0, 0, 500), cluster_at(-1, 1, 500)};
    std::array<PointSet, 3> reverse{cluster_at(-1, -1, 500), cluster_at(1, -1, 500), cluster_at(0, 0, 500)};
    // Outside the panel and not a number: both must be skipped, not drawn on the frame or the margin.
    reverse[2].xy.insert(reverse[2].xy.end(), {5.0f, 5.0f, NAN, 0.0f});
    swirl::app::draw_diffusion_grid(path, forward, reverse, {"t=0", "t=T/2", "t=T"}, "swirl  step 1  batch 8");

    Image image = load_png(path);
    CHECK(image.width > 800);
    CHECK(image.width < 1000);
    CHECK(image.height > 550);
    CHECK(image.height < 700);

    auto [blue_top, blue_bottom] = count_by_half(image, kForwardBlue);
    auto [red_top, red_bottom] = count_by_half(image, kSampleRed);
    CHECK(blue_top > 0);
    CHECK(blue_bottom == 0);
    CHECK(red_top == 0);
    CHECK(red_bottom > 0);
    CHECK(image.at(image.width - 2, image.height - 2) == kWhite);
    CHECK(image.at(image.width - 2, 2) == kWhite);
}

TEST_CASE("draw_diffusion_grid rejects a PointSet with an odd number of coordinates") {
    TempDir dir;
    std::array<PointSet, 3> forward{PointSet{{0.0f}}, PointSet{}, PointSet{}};
    CHECK_THROWS_AS(swirl::app::draw_diffusion_grid(dir.file("odd.png"), forward, {}, {"a", "b", "c"}, "odd"),
                    swirl::Error);
}

TEST_CASE("draw_loss_curve rejects input it cannot plot") {
    TempDir dir;
    std::string path = dir.file("loss.png");
    CHECK_THROWS_AS(swirl::app::draw_loss_curve(path, {}, {}, "empty"), swirl::Error);
    CHECK_THROWS_AS(swirl::app::draw_loss_curve(path, {1, 2}, {0.5}, "mismatched"), swirl::Error);
    CHECK_THROWS_AS(swirl::app::draw_loss_curve(path, {1, 2}, {NAN, INFINITY}, "no finite point"), swirl::Error);
    CHECK_FALSE(fs::exists(path));
}

// The rows of the pixels near `color` in column x, between rows y0 and y1; their mean, or -1 if there are none.
double mean_row(const Image& image, Color color, int x, int y0, int y1, int tolerance) {
    double sum = 0;
    int count = 0;
    for (int y = y0; y < y1; ++y)
        if (close_to(image.at(x, y), color, tolerance)) sum += y, ++count;
    return count ? sum / count : -1.0;
}

TEST_CASE("draw_loss_curve plots one point, skips NaN and Inf, and switches to a log axis") {
    TempDir dir;

    // One point sits in the middle of its padded axes, away from the legend at the top.
    std::string single = dir.file("single.png");
    swirl::app::draw_loss_curve(single, {100}, {0.5}, "one point");
    Image one = load_png(single);
    int middle = 0;
    for (int y = one.height / 3; y < 2 * one.height / 3; ++y)
        for (int x = one.width / 3; x < 2 * one.width / 3; ++x) middle += close_to(one.at(x, y), kForwardBlue, 40);
    CHECK(middle > 0);

    std::vector<double> steps;
    std::vector<double> losses;
    for (int step = 0; step <= 2000; step += 10) {
        steps.push_back(step);
        losses.push_back(std::exp(-step / 300.0));  // spans a factor of ~800: log scale
    }
    std::vector<double> clean_steps = steps;
    std::vector<double> clean_losses = losses;
    clean_steps.erase(clean_steps.begin() + 5, clean_steps.begin() + 7);
    clean_losses.erase(clean_losses.begin() + 5, clean_losses.begin() + 7);
    losses[5] = NAN;
    losses[6] = INFINITY;
    std::string log_scale = dir.file("log.png");
    std::string clean = dir.file("clean.png");
    swirl::app::draw_loss_curve(log_scale, steps, losses, "log scale");
    swirl::app::draw_loss_curve(clean, clean_steps, clean_losses, "log scale");
    Image image = load_png(log_scale);
    CHECK(image.width > image.height);
    CHECK(image.at(0, 0) == kWhite);
    // NaN and Inf are left out: the same picture as the series without them.
    CHECK(image.rgb == load_png(clean).rgb);

    // On a log axis an exponential decay is a straight falling line. The smoothed curve (the moving average has
    // settled after its first tenth) is followed column by column below the legend, from where it first shows in
    // the lower two thirds to its last column; on a linear axis it would hug the bottom, flat and bent.
    std::vector<std::pair<int, double>> curve;
    for (int x = 0; x < image.width; ++x) {
        double row = mean_row(image, kForwardBlue, x, image.height / 3, image.height, 40);
        if (row >= 0) curve.emplace_back(x, row);
    }
    REQUIRE(curve.size() > 100);
    curve.erase(curve.begin(), curve.begin() + static_cast<std::ptrdiff_t>(curve.size() / 4));
    const double n = static_cast<double>(curve.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (auto [x, y] : curve) sx += x, sy += y, sxx += double(x) * x, sxy += x * y;
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const double intercept = (sy - slope * sx) / n;
    double worst = 0;
    for (auto [x, y] : curve) worst = std::max(worst, std::abs(y - (intercept + slope * x)));
    CAPTURE(slope);
    CAPTURE(worst);
    CHECK(slope * (curve.back().first - curve.front().first) > image.height / 4.0);  // falls a quarter of the image
    CHECK(worst < 3.0);  // within 3 pixels of a straight line
}
