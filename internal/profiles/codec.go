package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Record formats. Every stored or exported blob names its format and
// version, so that a future knock can read an old one and an old knock
// refuses a new one with a clear message instead of guessing.
const (
	formatProfile  = "knock-profile"  // one profile: a keyring item
	formatProfiles = "knock-profiles" // many: the file store and exports
	formatVersion  = 1

	// maxRecord bounds what the decoders accept.
	maxRecord = 32 << 10
	// maxFile bounds a file store or export.
	maxFile = 8 << 20
)

type profileRecord struct {
	Format  string   `json:"format"`
	V       int      `json:"v"`
	Profile *Profile `json:"profile"`
}

type profilesRecord struct {
	Format   string     `json:"format"`
	V        int        `json:"v"`
	Profiles []*Profile `json:"profiles"`
}

// Encode returns the self-describing record of one profile, as stored in
// a keyring item.
func Encode(p *Profile) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(profileRecord{Format: formatProfile, V: formatVersion, Profile: p})
}

// Decode parses a record written by [Encode]. Unknown fields, trailing
// data, other formats or versions and invalid profiles are errors wrapping
// [ErrCorrupt]; Decode never panics on any input.
func Decode(b []byte) (*Profile, error) {
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%w: record of %d bytes exceeds %d", ErrCorrupt, len(b), maxRecord)
	}
	var r profileRecord
	if err := strictUnmarshal(b, &r); err != nil {
		return nil, err
	}
	if err := checkFormat(r.Format, r.V, formatProfile); err != nil {
		return nil, err
	}
	if r.Profile == nil {
		return nil, fmt.Errorf("%w: record holds no profile", ErrCorrupt)
	}
	if err := r.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r.Profile, nil
}

// EncodeList returns the record of many profiles: the file store's
// content and the export format.
func EncodeList(ps []*Profile) ([]byte, error) {
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if ps == nil {
		ps = []*Profile{}
	}
	b, err := json.MarshalIndent(profilesRecord{Format: formatProfiles, V: formatVersion, Profiles: ps}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeList parses a record written by [EncodeList], strictly, and
// rejects duplicate names.
func DecodeList(b []byte) ([]*Profile, error) {
	if len(b) > maxFile {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrCorrupt, len(b), maxFile)
	}
	var r profilesRecord
	if err := strictUnmarshal(b, &r); err != nil {
		return nil, err
	}
	if err := checkFormat(r.Format, r.V, formatProfiles); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, p := range r.Profiles {
		if p == nil {
			return nil, fmt.Errorf("%w: entry %d is null", ErrCorrupt, i+1)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrCorrupt, i+1, err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: name %q appears twice", ErrCorrupt, p.Name)
		}
		seen[p.Name] = true
	}
	return r.Profiles, nil
}

// isListRecord reports whether b looks like an [EncodeList] record, for
// import's format detection.
func isListRecord(b []byte) bool {
	var probe struct {
		Format string `json:"format"`
	}
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &probe) == nil && probe.Format == formatProfiles
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, jsonErr(err))
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the record", ErrCorrupt)
	}
	return nil
}

// jsonErr shortens decoder errors and keeps values (which may be
// secrets) out of the text.
func jsonErr(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q has the wrong type (%s)", te.Field, te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated record")
	}
	return err
}

func checkFormat(format string, v int, want string) error {
	switch {
	case format != want:
		return fmt.Errorf("%w: format %q, want %q", ErrCorrupt, format, want)
	case v > formatVersion:
		return fmt.Errorf("%w: format version %d is newer than this knock understands (%d); upgrade knock", ErrCorrupt, v, formatVersion)
	case v != formatVersion:
		return fmt.Errorf("%w: unknown format version %d", ErrCorrupt, v)
	}
	return nil
}
