

def test_code_spans_nest_inside_kept_tokens_never_across_them():
    from audit.render.formatting import code_spans

    html = str(code_spans("compare (`audit run --baseline released`) or <b>`x-y`</b>"))
    assert html == ('compare <span class="nw">(</span><code>audit run <span class="nw">--baseline</span> released</code>'
                    ') or &lt;b&gt;<code><span class="nw">x-y</span></code><span class="nw">&lt;/b&gt;</span>')
