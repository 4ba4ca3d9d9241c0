// Figure layout for the diffusion grid and the loss curve: axes, ticks and labels on top of Canvas.
// Colours follow matplotlib's defaults so the PNGs read like the notebook plots they stand in for.
#include "apps/figures.h"

#include "apps/canvas.h"
#include "tensor/error.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <tuple>
#include <utility>

namespace swirl::app {
namespace {

constexpr Color kInk{38, 38, 38};
constexpr Color kGridLine{232, 232, 232};
constexpr Color kForwardBlue{31, 119, 180};
constexpr Color kSampleRed{214, 39, 40};
constexpr Color kRawLoss{177, 207, 229};  // kForwardBlue at 35% over white: visible but clearly secondary

constexpr int kMargin = 16;
constexpr int kTickLength = 4;
constexpr int kMinorTickLength = 2;
constexpr int kTickLabelGap = 4;
constexpr int kTickScale = 1;
constexpr int kLabelScale = 2;
constexpr int kGap = 14;  // white space between blocks: caption, titles, panels, the next panel's tick labels

// Maps data coordinates onto a pixel box. Data y grows upwards; the range ends land on the frame lines.
struct Axes {
    Rect box;
    double x_min, x_max, y_min, y_max;

    float px(double x) const {
        return static_cast<float>(box.x0 + 0.5 + (x - x_min) / (x_max - x_min) * (box.x1 - box.x0 - 1));
    }
    float py(double y) const {
        return static_cast<float>(box.y1 - 0.5 - (y - y_min) / (y_max - y_min) * (box.y1 - box.y0 - 1));
    }
};

// A tick at axis coordinate `at`; minor ticks have no label and no grid line.
struct Tick {
    double at;
    std::string label;
    bool minor() const { return label.empty(); }
};

int pixel_of(float coordinate) { return static_cast<int>(std::floor(coordinate)); }

// The part of `box` the frame does not cover: data is clipped to it so the frame stays crisp.
Rect inside_frame(Rect box) { return {box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1}; }

void centered_text(Canvas& canvas, int center_x, int y, std::string_view text, Color color, int scale) {
    canvas.text(center_x - Canvas::text_width(text, scale) / 2, y, text, color, scale);
}

void draw_frame(Canvas& canvas, Rect box) {
    canvas.fill_rect(box.x0, box.y0, box.x1, box.y0 + 1, kInk);
    canvas.fill_rect(box.x0, box.y1 - 1, box.x1, box.y1, kInk);
    canvas.fill_rect(box.x0, box.y0, box.x0 + 1, box.y1, kInk);
    canvas.fill_rect(box.x1 - 1, box.y0, box.x1, box.y1, kInk);
}

// Ticks point outwards, as matplotlib draws them, so they never hide data.
void draw_x_ticks(Canvas& canvas, const Axes& axes, const std::vector<Tick>& ticks) {
    for (const Tick& tick : ticks) {
        int column = pixel_of(axes.px(tick.at));
        int length = tick.minor() ? kMinorTickLength : kTickLength;
        canvas.fill_rect(column, axes.box.y1, column + 1, axes.box.y1 + length, kInk);
        centered_text(canvas, column, axes.box.y1 + kTickLength + kTickLabelGap, tick.label, kInk, kTickScale);
    }
}

void draw_y_ticks(Canvas& canvas, const Axes& axes, const std::vector<Tick>& ticks) {
    for (const Tick& tick : ticks) {
        int row = pixel_of(axes.py(tick.at));
        int length = tick.minor() ? kMinorTickLength : kTickLength;
        canvas.fill_rect(axes.box.x0 - length, row, axes.box.x0, row + 1, kInk);
        int label_right = axes.box.x0 - kTickLength - kTickLabelGap;
        canvas.text(label_right - Canvas::text_width(tick.label, kTickScale), row - Canvas::text_height(kTickScale) / 2,
                    tick.label, kInk, kTickScale);
    }
}

int widest_label(const std::vector<Tick>& ticks) {
    int widest = 0;
    for (const Tick& tick : ticks) widest = std::max(widest, Canvas::text_width(tick.label, kTickScale));
    return widest;
}

constexpr int kPanelSize = 260;
constexpr double kPanelExtent = 2.0;
constexpr float kPointAlpha = 0.18f;  // low enough that 5000 overlapping points read as a density
constexpr float kPointRadius = 1.2f;

std::vector<Tick> panel_ticks() {
    std::vector<Tick> ticks;
    for (int value = -2; value <= 2; ++value) ticks.push_back({static_cast<double>(value), std::to_string(value)});
    return ticks;
}

// Pixel positions of the 2x3 panels, derived from the text they must leave room for.
struct GridLayout {
    int left, top, column_step, row_step, width, height;

    Rect panel(int row, int column) const {
        int x0 = left + column * column_step;
        int y0 = top + row * row_step;
        return {x0, y0, x0 + kPanelSize, y0 + kPanelSize};
    }
};

GridLayout grid_layout(const std::vector<Tick>& ticks) {
    int y_tick_band = kTickLength + kTickLabelGap + widest_label(ticks);
    int x_tick_band = kTickLength + kTickLabelGap + Canvas::text_height(kTickScale);
    int label_height = Canvas::text_height(kLabelScale);
    GridLayout layout{};
    layout.left = kMargin + label_height + kGap + y_tick_band;
    layout.top = kMargin + label_height + kGap + label_height + kGap / 2;
    layout.column_step = kPanelSize + kGap + y_tick_band;
    layout.row_step = kPanelSize + x_tick_band + kGap;
    layout.width = layout.left + 2 * layout.column_step + kPanelSize + kMargin;
    layout.height = layout.top + layout.row_step + kPanelSize + x_tick_band + kMargin;
    return layout;
}

void draw_points(Canvas& canvas, const Axes& axes, const PointSet& points, Color color) {
    SWIRL_CHECK(points.xy.size() % 2 == 0, "PointSet holds {} coordinates; expected interleaved x, y pairs",
                points.xy.size());
    canvas.set_clip(inside_frame(axes.box));
    for (std::size_t i = 0; i < points.xy.size(); i += 2) {
        double x = points.xy[i];
        double y = points.xy[i + 1];
        // The negated test also rejects NaN.
        if (!(std::fabs(x) <= kPanelExtent && std::fabs(y) <= kPanelExtent)) continue;
        canvas.blend_point(axes.px(x), axes.py(y), color, kPointAlpha, kPointRadius);
    }
    canvas.clear_clip();
}

void draw_panel(Canvas& canvas, Rect box, const PointSet& points, Color color, const std::vector<Tick>& ticks) {
    Axes axes{box, -kPanelExtent, kPanelExtent, -kPanelExtent, kPanelExtent};
    draw_points(canvas, axes, points, color);
    draw_frame(canvas, box);
    draw_x_ticks(canvas, axes, ticks);
    draw_y_ticks(canvas, axes, ticks);
}

void draw_row_label(Canvas& canvas, const GridLayout& layout, int row, std::string_view label) {
    Rect panel = layout.panel(row, 0);
    int center_y = (panel.y0 + panel.y1) / 2;
    canvas.text_vertical(kMargin, center_y + Canvas::text_width(label, kLabelScale) / 2, label, kInk, kLabelScale);
}

constexpr int kLossWidth = 900;
constexpr int kLossHeight = 540;
constexpr double kLogScaleRatio = 20.0;
constexpr float kRawWidth = 1.0f;
constexpr float kSmoothedWidth = 2.0f;
constexpr double kMaxTickIntervals = 7.0;
constexpr double kRangePadding = 0.04;  // of the data range, so the curve does not touch the frame

// Finite points only, in input order; y is already in axis space (log10 of the loss on a log axis).
struct Series {
    std::vector<double> x, y;
};

Series finite_points(const std::vector<double>& steps, const std::vector<double>& losses) {
    Series series;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (!std::isfinite(steps[i]) || !std::isfinite(losses[i])) continue;
        series.x.push_back(steps[i]);
        series.y.push_back(losses[i]);
    }
    return series;
}

bool wants_log_scale(const std::vector<double>& losses) {
    auto [low, high] = std::minmax_element(losses.begin(), losses.end());
    return *low > 0.0 && *high / *low > kLogScaleRatio;
}

std::pair<double, double> padded_range(const std::vector<double>& values) {
    auto [low, high] = std::minmax_element(values.begin(), values.end());
    double span = *high - *low;
    // A flat series (or a single point) still needs an axis around it; "flat" includes spans lost in rounding,
    // which would otherwise ask for tick steps finer than a double can count.
    bool flat = span <= 1e-9 * std::max(std::fabs(*low), std::fabs(*high));
    double padding = !flat ? span * kRangePadding : (*low != 0.0 ? std::fabs(*low) * 0.1 : 1.0);
    return {*low - padding, *high + padding};
}

std::string format_tick(double value) {
    double magnitude = std::fabs(value);
    if (magnitude >= 1e6) return fmt::format("{:g}M", value / 1e6);
    if (magnitude >= 1e3) return fmt::format("{:g}k", value / 1e3);
    std::string text = fmt::format("{:g}", value);
    // "1e-05" -> "1e-5": the padded exponent only costs width.
    if (auto at = text.find("e-0"); at != std::string::npos) text.erase(at + 2, 1);
    return text;
}

// Ticks at multiples of 1, 2 or 5 x 10^k inside [low, high]: the finest such step that gives at most
// kMaxTickIntervals intervals, so an axis gets five to seven labels.
std::vector<Tick> linear_ticks(double low, double high) {
    double magnitude = std::pow(10.0, std::floor(std::log10((high - low) / kMaxTickIntervals)));
    double step = 10.0 * magnitude;
    for (double multiple : {1.0, 2.0, 5.0}) {
        if ((high - low) / (multiple * magnitude) <= kMaxTickIntervals) {
            step = multiple * magnitude;
            break;
        }
    }
    std::vector<Tick> ticks;
    auto first = static_cast<long long>(std::ceil(low / step));
    auto last = static_cast<long long>(std::floor(high / step));
    for (long long i = first; i <= last; ++i) {
        double value = static_cast<double>(i) * step;
        ticks.push_back({value, format_tick(value)});
    }
    return ticks;
}

// Decades get labels; 2x and 5x get them too when fewer than three decades are visible, so a short log axis
// is still readable. The other multiples are minor ticks.
std::vector<Tick> log_ticks(double low_exponent, double high_exponent) {
    int first = static_cast<int>(std::floor(low_exponent));
    int last = static_cast<int>(std::ceil(high_exponent));
    bool label_halves = std::floor(high_exponent) - std::ceil(low_exponent) < 2.0;
    std::vector<Tick> ticks;
    for (int decade = first; decade <= last; ++decade) {
        for (int multiple = 1; multiple <= 9; ++multiple) {
            double value = multiple * std::pow(10.0, decade);
            double at = std::log10(value);
            if (at < low_exponent || at > high_exponent) continue;
            bool labelled = multiple == 1 || (label_halves && (multiple == 2 || multiple == 5));
            ticks.push_back({at, labelled ? format_tick(value) : std::string()});
        }
    }
    return ticks;
}

// Heavier smoothing for longer runs; the average starts at the first value so it is not biased towards zero.
std::vector<double> exponential_moving_average(const std::vector<double>& values) {
    double span = std::clamp(static_cast<double>(values.size()) / 30.0, 1.0, 200.0);
    double keep = 1.0 - 1.0 / span;
    std::vector<double> smoothed(values.size());
    double average = values.front();
    for (std::size_t i = 0; i < values.size(); ++i) {
        average = keep * average + (1.0 - keep) * values[i];
        smoothed[i] = average;
    }
    return smoothed;
}

void draw_series(Canvas& canvas, const Axes& axes, const std::vector<double>& x, const std::vector<double>& y,
                 Color color, float width) {
    if (x.size() == 1) {
        canvas.blend_point(axes.px(x[0]), axes.py(y[0]), color, 1.0f, 2.5f);
        return;
    }
    for (std::size_t i = 1; i < x.size(); ++i) {
        canvas.line(axes.px(x[i - 1]), axes.py(y[i - 1]), axes.px(x[i]), axes.py(y[i]), color, width);
    }
}

void draw_grid_lines(Canvas& canvas, const Axes& axes, const std::vector<Tick>& x_ticks,
                     const std::vector<Tick>& y_ticks) {
    for (const Tick& tick : x_ticks) {
        int column = pixel_of(axes.px(tick.at));
        canvas.fill_rect(column, axes.box.y0, column + 1, axes.box.y1, kGridLine);
    }
    for (const Tick& tick : y_ticks) {
        if (tick.minor()) continue;
        int row = pixel_of(axes.py(tick.at));
        canvas.fill_rect(axes.box.x0, row, axes.box.x1, row + 1, kGridLine);
    }
}

// A short stroke of each colour with its name, right-aligned at (right, y).
void draw_legend(Canvas& canvas, int right, int y) {
    constexpr int kSwatch = 18;
    constexpr int kSpacing = 8;
    float stroke_y = static_cast<float>(y + Canvas::text_height(kTickScale) / 2) + 0.5f;
    int x = right;
    for (auto [name, color, width] :
         {std::tuple{"smoothed (EMA)", kForwardBlue, kSmoothedWidth}, {"raw", kRawLoss, kRawWidth}}) {
        x -= Canvas::text_width(name, kTickScale);
        canvas.text(x, y, name, kInk, kTickScale);
        x -= kSpacing / 2 + kSwatch;
        canvas.line(static_cast<float>(x), stroke_y, static_cast<float>(x + kSwatch), stroke_y, color, width);
        x -= 2 * kSpacing;
    }
}

// What draw_loss_curve settles before drawing: the finite points (y in axis space), the axes and their ticks.
struct LossPlot {
    Series series;
    bool log_y = false;
    Axes axes{};
    std::vector<Tick> x_ticks, y_ticks;
};

// Leaves room for the title and the header row above, tick labels left and below, and the x label.
Rect loss_plot_box(const std::vector<Tick>& y_ticks) {
    int tick_band = kTickLength + kTickLabelGap;
    int small_text_row = Canvas::text_height(kTickScale) + 2 * kTickLabelGap;
    int top = kMargin + Canvas::text_height(kLabelScale) + kGap + small_text_row;
    int bottom = kLossHeight - kMargin - small_text_row - tick_band - small_text_row;
    return {kMargin + widest_label(y_ticks) + tick_band, top, kLossWidth - 2 * kMargin, bottom};
}

LossPlot prepare_loss_plot(const std::vector<double>& steps, const std::vector<double>& losses) {
    LossPlot plot;
    plot.series = finite_points(steps, losses);
    SWIRL_CHECK(!plot.series.x.empty(), "draw_loss_curve: all {} points are NaN or Inf", steps.size());
    plot.log_y = wants_log_scale(plot.series.y);
    if (plot.log_y) {
        for (double& y : plot.series.y) y = std::log10(y);
    }
    auto [x_min, x_max] = padded_range(plot.series.x);
    auto [y_min, y_max] = padded_range(plot.series.y);
    plot.x_ticks = linear_ticks(x_min, x_max);
    plot.y_ticks = plot.log_y ? log_ticks(y_min, y_max) : linear_ticks(y_min, y_max);
    plot.axes = {loss_plot_box(plot.y_ticks), x_min, x_max, y_min, y_max};
    return plot;
}

void draw_loss_labels(Canvas& canvas, const LossPlot& plot, const std::string& title) {
    Rect box = plot.axes.box;
    int center_x = (box.x0 + box.x1) / 2;
    int small_text_height = Canvas::text_height(kTickScale);
    centered_text(canvas, center_x, kMargin, title, kInk, kLabelScale);
    int header_y = box.y0 - 2 * kTickLabelGap - small_text_height;
    canvas.text(box.x0, header_y, plot.log_y ? "loss (log scale)" : "loss", kInk, kTickScale);
    draw_legend(canvas, box.x1, header_y);
    centered_text(canvas, center_x, kLossHeight - kMargin - small_text_height, "step", kInk, kTickScale);
}

}  // namespace

void draw_diffusion_grid(const std::string& path, const std::array<PointSet, 3>& forward,
                         const std::array<PointSet, 3>& reverse, const std::array<std::string, 3>& column_titles,
                         const std::string& caption) {
    std::vector<Tick> ticks = panel_ticks();
    GridLayout layout = grid_layout(ticks);
    Canvas canvas(layout.width, layout.height);

    Rect first = layout.panel(0, 0);
    Rect last = layout.panel(0, 2);
    centered_text(canvas, (first.x0 + last.x1) / 2, kMargin, caption, kInk, kLabelScale);
    int title_y = first.y0 - kGap / 2 - Canvas::text_height(kLabelScale);
    for (int column = 0; column < 3; ++column) {
        Rect top = layout.panel(0, column);
        auto index = static_cast<std::size_t>(column);
        centered_text(canvas, (top.x0 + top.x1) / 2, title_y, column_titles[index], kInk, kLabelScale);
        draw_panel(canvas, top, forward[index], kForwardBlue, ticks);
        draw_panel(canvas, layout.panel(1, column), reverse[index], kSampleRed, ticks);
    }
    draw_row_label(canvas, layout, 0, "q(x(0..T))");
    draw_row_label(canvas, layout, 1, "p(x(0..T))");
    canvas.write_png(path);
}

void draw_loss_curve(const std::string& path, const std::vector<double>& steps, const std::vector<double>& losses,
                     const std::string& title) {
    SWIRL_CHECK(steps.size() == losses.size(), "draw_loss_curve: {} steps but {} losses", steps.size(), losses.size());
    SWIRL_CHECK(!steps.empty(), "draw_loss_curve: no points to plot for '{}'", path);
    LossPlot plot = prepare_loss_plot(steps, losses);
    const Axes& axes = plot.axes;

    Canvas canvas(kLossWidth, kLossHeight);
    draw_grid_lines(canvas, axes, plot.x_ticks, plot.y_ticks);
    canvas.set_clip(inside_frame(axes.box));
    draw_series(canvas, axes, plot.series.x, plot.series.y, kRawLoss, kRawWidth);
    draw_series(canvas, axes, plot.series.x, exponential_moving_average(plot.series.y), kForwardBlue, kSmoothedWidth);
    canvas.clear_clip();
    draw_frame(canvas, axes.box);
    draw_x_ticks(canvas, axes, plot.x_ticks);
    draw_y_ticks(canvas, axes, plot.y_ticks);
    draw_loss_labels(canvas, plot, title);
    canvas.write_png(path);
}

namespace {

constexpr int kBoundWidth = 960, kBoundHeight = 440, kSummaryWidth = 230;

// A filled bar from 0 to `value` over [x0, x1) in data x.
void draw_bar(Canvas& canvas, const Axes& axes, double x0, double x1, double value, Color color) {
    const float top = axes.py(std::max(value, 0.0)), bottom = axes.py(std::min(value, 0.0));
    canvas.fill_rect(pixel_of(axes.px(x0)), pixel_of(top), pixel_of(axes.px(x1)), pixel_of(bottom) + 1, color);
}

// The frame, grid, ticks and the zero line of a bar panel.
void draw_bar_axes(Canvas& canvas, const Axes& axes, const std::vector<Tick>& x_ticks, const std::vector<Tick>& y_ticks) {
    draw_grid_lines(canvas, axes, {}, y_ticks);
    const int zero = pixel_of(axes.py(0.0));
    canvas.fill_rect(axes.box.x0, zero, axes.box.x1, zero + 1, kInk);
    draw_frame(canvas, axes.box);
    draw_x_ticks(canvas, axes, x_ticks);
    draw_y_ticks(canvas, axes, y_ticks);
}

}  // namespace

void draw_bound_figure(const std::string& path, const BoundTerms& terms, const std::string& caption) {
    SWIRL_CHECK(!terms.kl_bits.empty(), "draw_bound_figure: no steps to draw for '{}'", path);
    double kl_sum = 0.0, kl_max = 0.0;
    for (double kl : terms.kl_bits) {
        SWIRL_CHECK(std::isfinite(kl), "draw_bound_figure: a KL term is {}", kl);
        kl_sum += kl;
        kl_max = std::max(kl_max, kl);
    }
    SWIRL_CHECK(std::isfinite(terms.entropy_bits) && std::isfinite(terms.K_bits),
                "draw_bound_figure: the entropy terms ({}) or K ({}) are not finite", terms.entropy_bits, terms.K_bits);
    Canvas canvas(kBoundWidth, kBoundHeight);
    centered_text(canvas, kBoundWidth / 2, kMargin, caption, kInk, kLabelScale);
    const int top = kMargin + Canvas::text_height(kLabelScale) + kGap + Canvas::text_height(kTickScale) + 2 * kTickLabelGap;
    const int bottom = kBoundHeight - kMargin - 2 * (Canvas::text_height(kTickScale) + 2 * kTickLabelGap) - kTickLength;
    const int header_y = top - kTickLabelGap - Canvas::text_height(kTickScale);

    // Left: KL_t against t.
    const double last_t = static_cast<double>(terms.kl_bits.size()) + 1.0;
    const std::vector<Tick> kl_ticks = linear_ticks(0.0, kl_max > 0 ? kl_max * 1.08 : 1.0);
    const double kl_top = kl_max > 0 ? kl_max * 1.08 : 1.0;
    const int left = kMargin + widest_label(kl_ticks) + kTickLength + kTickLabelGap;
    const Axes steps{{left, top, kBoundWidth - kSummaryWidth - 2 * kGap - kMargin, bottom}, 1.0, last_t + 1.0, 0.0, kl_top};
    // A label every 5 steps for the swiss roll's 40; at most about a dozen for longer chains (the heartbeat's 2000).
    int64_t every = 5;
    for (int64_t candidate : {10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000})
        if (static_cast<int64_t>(last_t) / every > 12) every = candidate;
    std::vector<Tick> t_ticks;
    for (int64_t t = 2; t <= static_cast<int64_t>(last_t); ++t)
        if (t == 2 || t % every == 0) t_ticks.push_back({static_cast<double>(t), std::to_string(t)});
    draw_bar_axes(canvas, steps, t_ticks, kl_ticks);
    for (std::size_t i = 0; i < terms.kl_bits.size(); ++i) {
        const double t = static_cast<double>(i) + 2.0;
        draw_bar(canvas, steps, t - 0.38, t + 0.38, terms.kl_bits[i], kSampleRed);
    }
    canvas.text(steps.box.x0, header_y, fmt::format("KL of step t (bits per {}), sum {:.3f}", terms.unit, kl_sum), kInk, kTickScale);
    centered_text(canvas, (steps.box.x0 + steps.box.x1) / 2, bottom + kTickLength + 2 * kTickLabelGap + Canvas::text_height(kTickScale),
                  "t", kInk, kTickScale);

    // Right: entropy terms - sum KL = K.
    const std::vector<double> values = {terms.entropy_bits, -kl_sum, terms.K_bits};
    auto [low, high] = padded_range({0.0, terms.entropy_bits, -kl_sum, terms.K_bits});
    const std::vector<Tick> bit_ticks = linear_ticks(low, high);
    const int summary_left = steps.box.x1 + kGap + widest_label(bit_ticks) + kTickLength + kTickLabelGap + kGap;
    const Axes summary{{summary_left, top, kBoundWidth - kMargin, bottom}, 0.0, 3.0, low, high};
    const std::vector<Tick> names = {{0.5, "entropies"}, {1.5, "-sum KL"}, {2.5, "K"}};
    draw_bar_axes(canvas, summary, names, bit_ticks);
    const std::array<Color, 3> colors = {kForwardBlue, kSampleRed, kInk};
    for (std::size_t i = 0; i < values.size(); ++i)
        draw_bar(canvas, summary, static_cast<double>(i) + 0.2, static_cast<double>(i) + 0.8, values[i], colors[i]);
    canvas.text(summary.box.x0, header_y, fmt::format("K = {:.3f} bits, K - L_null = {:.3f}", terms.K_bits,
                                                       terms.K_minus_L_null_bits), kInk, kTickScale);
    canvas.write_png(path);
}

namespace {

// A raster scaled to fill `box`, framed: pixel (x, y) shows raster cell (y * rows / height, x * cols / width), so a
// raster wider than the box is thinned.
void draw_raster(Canvas& canvas, Rect box, const BitRaster& raster) {
    SWIRL_CHECK(raster.rows >= 0 && raster.cols >= 0 &&
                    raster.bits.size() == static_cast<std::size_t>(raster.rows) * static_cast<std::size_t>(raster.cols),
                "draw_bit_figure: a raster of {} x {} holds {} bits", raster.rows, raster.cols, raster.bits.size());
    const Rect inner = inside_frame(box);
    const int width = inner.x1 - inner.x0, height = inner.y1 - inner.y0;
    if (raster.rows > 0 && raster.cols > 0)
        for (int y = 0; y < height; ++y) {
            const int row = static_cast<int>(static_cast<int64_t>(y) * raster.rows / height);
            for (int x = 0; x < width; ++x) {
                const int col = static_cast<int>(static_cast<int64_t>(x) * raster.cols / width);
                if (raster.bits[static_cast<std::size_t>(row) * static_cast<std::size_t>(raster.cols) + static_cast<std::size_t>(col)])
                    canvas.fill_rect(inner.x0 + x, inner.y0 + y, inner.x0 + x + 1, inner.y0 + y + 1, kInk);
            }
        }
    draw_frame(canvas, box);
}

}  // namespace

void draw_bit_figure(const std::string& path, const BitRaster& samples, const BitRaster& data,
                     const BitRaster& trajectory, const std::string& caption) {
    constexpr int kCell = 12, kPanelWidth = 20 * kCell + 2, kTrajectoryHeight = 20 * 8 + 2;
    const int title_height = Canvas::text_height(kLabelScale);
    const int samples_height = std::max(samples.rows, 1) * 6 + 2, data_height = std::max(data.rows, 1) * kCell + 2;
    const int width = 2 * kMargin + 2 * kPanelWidth + 4 * kGap;
    const int top = kMargin + title_height + kGap + title_height + kGap / 2;
    const int bottom_top = top + std::max(samples_height, data_height) + kGap + title_height + kGap / 2;
    Canvas canvas(width, bottom_top + kTrajectoryHeight + kMargin);
    centered_text(canvas, width / 2, kMargin, caption, kInk, kLabelScale);
    const Rect left{kMargin, top, kMargin + kPanelWidth, top + samples_height};
    const Rect right{width - kMargin - kPanelWidth, top, width - kMargin, top + data_height};
    const int title_y = top - kGap / 2 - title_height;
    centered_text(canvas, (left.x0 + left.x1) / 2, title_y, fmt::format("p: {} samples", samples.rows), kSampleRed, kLabelScale);
    centered_text(canvas, (right.x0 + right.x1) / 2, title_y, "the data's sequences", kForwardBlue, kLabelScale);
    draw_raster(canvas, left, samples);
    draw_raster(canvas, right, data);
    const Rect lower{kMargin, bottom_top, width - kMargin, bottom_top + kTrajectoryHeight};
    centered_text(canvas, width / 2, bottom_top - kGap / 2 - title_height, "a reverse trajectory: t = T ... 0", kSampleRed,
                  kLabelScale);
    draw_raster(canvas, lower, trajectory);
    canvas.write_png(path);
}

}  // namespace swirl::app
