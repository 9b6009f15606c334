package spec

import (
	"os"
	"path/filepath"
)

// ReadmePath is the README whose operation reference is generated, from the repository root.
const ReadmePath = "README.md"

// TemplatePath is where a job type's element template is committed, from the repository root.
func TemplatePath(j *JobType) string {
	return filepath.Join("examples", "element-templates", j.File)
}

// Generated returns every generated file, by its path from the repository root root, with the
// content it must have: each job type's template and the README with its reference spliced in.
func Generated(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, j := range JobTypes {
		t, err := Template(j)
		if err != nil {
			return nil, err
		}
		out[TemplatePath(j)] = t
	}
	readme, err := os.ReadFile(filepath.Join(root, ReadmePath))
	if err != nil {
		return nil, err
	}
	r, err := SpliceReadme(string(readme), ReadmeTable(JobTypes))
	if err != nil {
		return nil, err
	}
	out[ReadmePath] = []byte(r)
	return out, nil
}
