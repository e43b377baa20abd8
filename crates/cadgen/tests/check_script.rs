//! The script checker against hostile and harmless scripts.

use cadgen::{check_script, Violation, ViolationKind};

fn violations(source: &str) -> Vec<Violation> {
    check_script(source).expect_err(source)
}

/// Asserts the source is refused with a violation of `kind` on `line`.
fn refused(source: &str, kind: ViolationKind, line: usize) {
    let found = violations(source);
    assert!(
        found.iter().any(|v| v.kind == kind && v.line == line),
        "{source:?}: expected {kind:?} on line {line}, got {found:?}"
    );
}

#[test]
fn refuses_the_classic_escapes() {
    use ViolationKind::*;
    refused("import os", Import, 1);
    refused("from subprocess import run", Import, 1);
    refused("__import__('os')", Name, 1);
    refused("open('/etc/passwd')", Name, 1);
    refused("().__class__.__subclasses__()", Attribute, 1);
    refused("eval(\"1\")", Name, 1);
    refused("import socket", Import, 1);
    refused("import os.path as p", Import, 1);
    refused("import numpy.ctypeslib", Import, 1);
    refused(
        "import numpy as np\nlib = np.ctypeslib.load_library('x', '.')",
        Attribute,
        2,
    );
    refused("from . import helpers", Import, 1);
    refused("from FreeCAD import *", Import, 1);
    refused("from FreeCAD import openDocument", Import, 1);
    refused("x = __builtins__", Name, 1);
    refused("e = exec", Name, 1);
    refused("sys.exit()", Name, 1);
}

#[test]
fn refuses_freecad_file_and_settings_facilities() {
    use ViolationKind::*;
    refused("import FreeCAD as App\nApp.openDocument('a.FCStd')", Attribute, 2);
    // Export calls are skipped by the harness; anything else reaching
    // them (a reference, a computed call) is refused as before.
    refused("f = shape.exportStep\nf('a.step')", Attribute, 1);
    refused("go = doc.saveAs", Attribute, 1);
    refused("f = getattr(shape, 'exportStep')", Call, 1);
    refused("import numpy as np\na = np.fromfile('/etc/passwd')", Attribute, 2);
    refused("import Mesh\nm = Mesh.read('a.stl')", Attribute, 2);
    refused("import Part\ns = Part.read('a.brep')", Attribute, 2);
    refused("import Part\nPart.insert('a.step', 'Doc')", Attribute, 2);
    refused("import Part\nPart.open('a.step')", Attribute, 2);
    refused("import FreeCAD\nFreeCAD.loadFile('a.step')", Attribute, 2);
    refused(
        "import FreeCAD as App\nApp.ParamGet('User parameter:BaseApp')",
        Attribute,
        2,
    );
    refused("w = f.write", Attribute, 1);
    refused("import Mesh\nm = Mesh.Mesh('a.stl')", Call, 2);
    refused("import FreeCAD as App\ng = App.Gui", Attribute, 2);
}

#[test]
fn getattr_only_with_a_safe_literal() {
    use ViolationKind::*;
    assert_eq!(check_script("v = getattr(shape, 'Volume')"), Ok(()));
    refused("f = getattr(App, 'openDocument')", Call, 1);
    refused("f = getattr(App, name)", Call, 1);
    refused("f = getattr(App, '__dict__')", Call, 1);
    refused("setattr(obj, '__class__', X)", Call, 1);
    refused("g = getattr", Call, 1);
}

#[test]
fn sees_into_every_corner_of_the_tree() {
    use ViolationKind::*;
    // Places a shallow visitor misses: keyword values, defaults,
    // comprehensions, decorators, f-strings, lambdas, match arms.
    refused("f(key=open)", Name, 1);
    refused("def f(x=eval):\n    pass", Name, 1);
    refused("xs = [open for _ in range(3)]", Name, 1);
    refused("xs = {k: v for k, v in vars().items()}", Name, 1);
    refused("@eval\ndef f():\n    pass", Name, 1);
    refused("s = f\"{open('x')}\"", Name, 1);
    refused("g = lambda: __builtins__", Name, 1);
    refused("with open('x') as f:\n    pass", Name, 1);
    refused("match x:\n    case 1:\n        exec('')", Name, 3);
    refused(
        "class A:\n    def m(self):\n        return self.__class__",
        Attribute,
        3,
    );
}

#[test]
fn reports_all_violations_in_line_order() {
    let source = "import os\nimport Part\nx = eval('1')\nPart.read('x.step')\nimport socket\n";
    let found = violations(source);
    let lines: Vec<usize> = found.iter().map(|v| v.line).collect();
    assert_eq!(lines, vec![1, 3, 4, 5], "{found:?}");
    assert!(found[0]
        .to_string()
        .starts_with("line 1: importing `os` is not allowed"));
}

#[test]
fn reports_syntax_errors_with_their_line() {
    refused("import Part\n\ndef f(:\n    pass\n", ViolationKind::Syntax, 3);
    refused("x = (1,\n", ViolationKind::Syntax, 2);
    refused("print 'python 2'", ViolationKind::Syntax, 1);
}

#[test]
fn refuses_oversized_nul_and_absurdly_nested_input() {
    refused(
        &"#".repeat(cadgen::check::MAX_SCRIPT_BYTES + 1),
        ViolationKind::TooLarge,
        1,
    );
    refused("x = 1\ny = '\0'", ViolationKind::NulByte, 2);
    let deep = format!("x = {}1", "-".repeat(200_000));
    refused(&deep, ViolationKind::TooDeep, 1);
    let nested = format!("x = {}1{}", "[".repeat(5000), "]".repeat(5000));
    refused(&nested, ViolationKind::TooDeep, 1);
    let blocks: String = (0..300)
        .map(|i| format!("{}if x:\n", " ".repeat(i)))
        .collect::<String>()
        + &" ".repeat(300)
        + "pass\n";
    refused(&blocks, ViolationKind::TooDeep, 201);
}

#[test]
fn long_flat_point_tables_are_fine() {
    let points: Vec<String> = (0..5000).map(|i| format!("Vector({i}.0, {}.5, 0)", i % 7)).collect();
    let source = format!(
        "import FreeCAD as App\nimport Part\nfrom FreeCAD import Vector\npts = [{}]\nshape = Part.makePolygon(pts)\n",
        points.join(", ")
    );
    assert_eq!(check_script(&source), Ok(()));
}

#[test]
fn accepts_an_ordinary_freecad_script() {
    let source = r#"
import math
from collections import namedtuple
from functools import reduce
from typing import List

import FreeCAD as App
import Part
import Sketcher
import Draft
import Mesh
import MeshPart
from FreeCAD import Vector, Placement, Rotation

Hole = namedtuple("Hole", "x y d")
HOLES: List[Hole] = [Hole(10, 10, 6), Hole(30, 10, 6)]


def plate(length, width, thickness):
    """A plate with holes."""
    shape = Part.makeBox(length, width, thickness)
    for h in HOLES:
        shape = shape.cut(Part.makeCylinder(h.d / 2, thickness, Vector(h.x, h.y, 0)))
    return shape


shape = plate(40, 20, 10)
shape.Placement = Placement(Vector(0, 0, 0), Rotation(Vector(0, 0, 1), 45))
total = reduce(lambda a, b: a + b, [math.pi * h.d ** 2 / 4 for h in HOLES])
mesh = MeshPart.meshFromShape(Shape=shape, LinearDeflection=0.1)
doc = App.ActiveDocument or App.newDocument("Model")
doc.addObject("Part::Feature", "Plate").Shape = shape
Part.show(shape)
doc.recompute()
print(shape.Volume, total)
if __name__ == "__main__":
    pass
"#;
    assert_eq!(check_script(source), Ok(()));
}

/// The idioms language models write out of habit: GUI calls, numpy point
/// lists, the script exporting or saving its own result. The harness
/// stands in for the GUI and skips the exports; the checker lets them by.
#[test]
fn accepts_the_idioms_models_write() {
    let source = r#"
import FreeCAD as App
import FreeCADGui as Gui
import FreeCADGui
import ImportGui
import Import
import Part
import Mesh
import numpy as np

doc = App.newDocument("Part")
pts = np.linspace(0, 10, 5)
box = Part.makeBox(float(pts[-1]), 10, 10)
obj = doc.addObject("Part::Feature", "Box")
obj.Shape = box
obj.ViewObject.ShapeColor = (0.8, 0.2, 0.2)
doc.recompute()
Gui.SendMsgToActiveView("ViewFit")
FreeCADGui.ActiveDocument.ActiveView.viewIsometric()
__objs__ = [obj]
ImportGui.export(__objs__, "part.step")
del __objs__
Part.export([obj], "/home/user/part.step")
Mesh.export([obj], "part.stl")
box.exportStep("part.step")
box.exportStl("part.stl")
doc.saveAs("part.FCStd")
"#;
    assert_eq!(check_script(source), Ok(()));
}
