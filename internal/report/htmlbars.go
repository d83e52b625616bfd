package report

import "html/template"

// Bar is one bar of a BarChart: its series name and color, its value
// (the bar's length) and the text written beside it.
type Bar struct {
	Name, Color string
	Value       float64
	Text        string
}

// BarRow is one row of a BarChart: a label and its bars, drawn one
// under the other; Sub indents the label under the row before.
type BarRow struct {
	Label string
	Sub   bool
	Bars  []Bar
}

// BarChart draws rows of horizontal bars as inline SVG, width viewBox
// units wide, in the style of the run report's charts (WriteHTML), for
// other self-contained reports such as a comparison's.
func BarChart(width int, rows []BarRow) template.HTML {
	hr := make([]hrow, len(rows))
	for i, r := range rows {
		hr[i] = hrow{label: r.Label, sub: r.Sub}
		for _, b := range r.Bars {
			hr[i].bars = append(hr[i].bars, hbar{name: b.Name, color: b.Color, v: b.Value, text: b.Text})
		}
	}
	return hbarChart(width, hr)
}
