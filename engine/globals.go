package engine

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// A function that assigns a global the main chunk never assigns is most
// often a missing `local`: the value then outlives the call, is shared by
// every connection, and survives into the next reload. --check warns of
// it; `_G.name = ...` says it is meant.

// globalAssign is one assignment to a global name.
type globalAssign struct {
	file string
	line int
	name string
}

// globalScan walks one chunk, resolving names against the locals in scope.
type globalScan struct {
	file   string
	scopes []map[string]bool
	depth  int             // function nesting: 0 is the main chunk
	top    map[string]bool // globals assigned outside any function
	inFunc []globalAssign  // globals assigned inside functions
}

// CheckWarnings loads the script as Check does and also lists, as
// "file:line: ..." lines, the globals a function in the main script or in
// a module it required from disk assigns but no main chunk of theirs does.
func CheckWarnings(cfg Config) ([]string, error) {
	s, err := loadForCheck(cfg)
	if s != nil {
		defer s.close()
	}
	if err != nil || cfg.Script == "" { // the embedded default is ours
		return nil, err
	}
	files := []string{cfg.Script}
	for _, path := range s.modules {
		files = append(files, path)
	}
	sort.Strings(files[1:])
	return globalWarnings(files)
}

func globalWarnings(files []string) ([]string, error) {
	top := map[string]bool{}
	var assigns []globalAssign
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		chunk, err := parse.Parse(strings.NewReader(string(src)), file)
		if err != nil {
			return nil, err // loadMain compiled it: only a file changed meanwhile gets here
		}
		g := &globalScan{file: file, top: top}
		g.block(chunk)
		assigns = append(assigns, g.inFunc...)
	}
	var warnings []string
	seen := map[string]bool{}
	for _, a := range assigns {
		if top[a.name] || seen[a.file+":"+a.name] {
			continue
		}
		seen[a.file+":"+a.name] = true // one warning per name and file
		warnings = append(warnings, fmt.Sprintf("%s:%d: a function assigns the global %s, which no main chunk assigns (a missing local? write _G.%s = ... if it is meant)",
			a.file, a.line, a.name, a.name))
	}
	return warnings, nil
}

func (g *globalScan) declare(names ...string) {
	for _, n := range names {
		g.scopes[len(g.scopes)-1][n] = true
	}
}

func (g *globalScan) isLocal(name string) bool {
	for i := len(g.scopes) - 1; i >= 0; i-- {
		if g.scopes[i][name] {
			return true
		}
	}
	return false
}

func (g *globalScan) assign(name string, line int) {
	if g.isLocal(name) {
		return
	}
	if g.depth == 0 {
		g.top[name] = true
	} else {
		g.inFunc = append(g.inFunc, globalAssign{g.file, line, name})
	}
}

// block walks statements in a scope of their own.
func (g *globalScan) block(stmts []ast.Stmt, names ...string) {
	g.scopes = append(g.scopes, map[string]bool{})
	g.declare(names...)
	for _, st := range stmts {
		g.stmt(st)
	}
	g.scopes = g.scopes[:len(g.scopes)-1]
}

func (g *globalScan) stmt(st ast.Stmt) {
	switch s := st.(type) {
	case *ast.AssignStmt:
		g.exprs(s.Rhs)
		for _, lhs := range s.Lhs {
			if id, ok := lhs.(*ast.IdentExpr); ok {
				g.assign(id.Value, s.Line())
			} else {
				g.expr(lhs)
			}
		}
	case *ast.LocalAssignStmt:
		if len(s.Exprs) == 1 && len(s.Names) == 1 {
			if _, ok := s.Exprs[0].(*ast.FunctionExpr); ok {
				g.declare(s.Names...) // local function f: f is in scope in its body
			}
		}
		g.exprs(s.Exprs)
		g.declare(s.Names...)
	case *ast.FuncCallStmt:
		g.expr(s.Expr)
	case *ast.DoBlockStmt:
		g.block(s.Stmts)
	case *ast.WhileStmt:
		g.expr(s.Condition)
		g.block(s.Stmts)
	case *ast.RepeatStmt:
		// The condition sees the body's locals.
		g.scopes = append(g.scopes, map[string]bool{})
		for _, b := range s.Stmts {
			g.stmt(b)
		}
		g.expr(s.Condition)
		g.scopes = g.scopes[:len(g.scopes)-1]
	case *ast.IfStmt:
		g.expr(s.Condition)
		g.block(s.Then)
		g.block(s.Else)
	case *ast.NumberForStmt:
		g.exprs([]ast.Expr{s.Init, s.Limit, s.Step})
		g.block(s.Stmts, s.Name)
	case *ast.GenericForStmt:
		g.exprs(s.Exprs)
		g.block(s.Stmts, s.Names...)
	case *ast.FuncDefStmt:
		if id, ok := s.Name.Func.(*ast.IdentExpr); ok && s.Name.Receiver == nil {
			g.assign(id.Value, s.Line()) // function name() ... end
		} else {
			g.expr(s.Name.Func)
			g.expr(s.Name.Receiver)
		}
		g.function(s.Func, s.Name.Method != "")
	case *ast.ReturnStmt:
		g.exprs(s.Exprs)
	}
}

func (g *globalScan) function(f *ast.FunctionExpr, method bool) {
	g.depth++
	names := f.ParList.Names
	if method {
		names = append([]string{"self"}, names...)
	}
	g.block(f.Stmts, names...)
	g.depth--
}

func (g *globalScan) exprs(es []ast.Expr) {
	for _, e := range es {
		g.expr(e)
	}
}

func (g *globalScan) expr(e ast.Expr) {
	switch x := e.(type) {
	case *ast.FunctionExpr:
		g.function(x, false)
	case *ast.AttrGetExpr:
		g.expr(x.Object)
		g.expr(x.Key)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			g.expr(f.Key)
			g.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		g.expr(x.Func)
		g.expr(x.Receiver)
		g.exprs(x.Args)
	case *ast.LogicalOpExpr:
		g.expr(x.Lhs)
		g.expr(x.Rhs)
	case *ast.RelationalOpExpr:
		g.expr(x.Lhs)
		g.expr(x.Rhs)
	case *ast.StringConcatOpExpr:
		g.expr(x.Lhs)
		g.expr(x.Rhs)
	case *ast.ArithmeticOpExpr:
		g.expr(x.Lhs)
		g.expr(x.Rhs)
	case *ast.UnaryMinusOpExpr:
		g.expr(x.Expr)
	case *ast.UnaryNotOpExpr:
		g.expr(x.Expr)
	case *ast.UnaryLenOpExpr:
		g.expr(x.Expr)
	}
}
