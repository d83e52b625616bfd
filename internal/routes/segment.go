package routes

import "strings"

// Parameter names used in templates.
const (
	paramID   = "id"
	paramKey  = "key"
	paramFile = "file"
)

// maxSegmentLen is the length past which any segment is a parameter.
const maxSegmentLen = 64

// keyParents are the segments after which a parameter is named {key}.
var keyParents = map[string]bool{"kv": true, "key": true, "keys": true, "keyvalue": true}

// shapeParam reports whether seg looks like a parameter value by its shape
// alone, and which kind ("id" or "file").
func shapeParam(seg string) (string, bool) {
	if seg == "" {
		return "", false
	}
	if len(seg) > maxSegmentLen {
		if hasExt(seg) {
			return paramFile, true
		}
		return paramID, true
	}
	if strings.IndexByte(seg, '@') >= 0 {
		return paramID, true
	}
	if base, ok := splitExt(seg); ok {
		if isIDLike(base) {
			return paramFile, true
		}
		return "", false
	}
	if isIDLike(seg) {
		return paramID, true
	}
	return "", false
}

// isIDLike applies the shape rules to one segment (no extension handling).
func isIDLike(s string) bool {
	if s == "" || isVersion(s) {
		return false
	}
	var digits, lower, upper, hex, other, seps int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'z':
			lower++
			if c <= 'f' {
				hex++
			}
		case c >= 'A' && c <= 'Z':
			upper++
			if c <= 'F' {
				hex++
			}
		case c == '-' || c == '_' || c == '.' || c == ':':
			seps++
		case c == '@':
			return true
		default:
			other++
		}
	}
	n := len(s)
	letters := lower + upper
	switch {
	case digits == n:
		return true
	case isUUID(s):
		return true
	case hex == n && n >= 8 && (digits > 0 || n >= 16):
		return true
	case digits > 0 && letters == 0 && other == 0:
		// dates, times, dotted versions: 2024-01-02, 1.9.1, 12:30
		return true
	case other == 0 && letters > 0 && n >= 8 && digits >= 2:
		return true
	}
	if n >= 12 && other > 0 && letters+digits+other+seps == n {
		// base64 with '+' or '=' padding
		onlyB64 := true
		for i := 0; i < n; i++ {
			c := s[i]
			if !(isAlnum(c) || c == '+' || c == '=' || c == '-' || c == '_') {
				onlyB64 = false
				break
			}
		}
		if onlyB64 && (strings.ContainsAny(s, "+=")) {
			return true
		}
	}
	if n >= 20 && other == 0 && !strings.ContainsAny(s, ".:") && lower > 0 && upper*5 >= n {
		// random base62: many capitals spread through lower case
		return true
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isVersion matches v1, V2, v2.1, v1_0.
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' && s[0] != 'V' {
		return false
	}
	if s[1] < '0' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// splitExt splits "name.ext" when ext is 1..8 alphanumerics with a letter.
func splitExt(s string) (string, bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 || len(s)-i-1 > 8 {
		return "", false
	}
	ext := s[i+1:]
	letter := false
	for j := 0; j < len(ext); j++ {
		c := ext[j]
		if !isAlnum(c) {
			return "", false
		}
		if c > '9' {
			letter = true
		}
	}
	if !letter {
		return "", false
	}
	return s[:i], true
}

func hasExt(s string) bool {
	_, ok := splitExt(s)
	return ok
}

// skeleton maps runs of letters to 'a' and runs of digits to '9', keeping
// other characters: "machine-12" -> "a-9". The second result says whether
// s had a digit.
func skeleton(s string) (string, bool) {
	var b strings.Builder
	var last byte
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		var k byte
		switch {
		case c >= '0' && c <= '9':
			k = '9'
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			k = 'a'
		default:
			k = c
		}
		if (k == 'a' || k == '9') && k == last {
			continue
		}
		b.WriteByte(k)
		last = k
	}
	return b.String(), digit
}
