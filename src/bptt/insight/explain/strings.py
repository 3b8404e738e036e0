"""The prose of ``bptt explain`` in English and Chinese; formulas stay in one notation for both.

Each entry is a ``str.format`` template. Keys are shared, so a missing translation is a
KeyError in the tests rather than a silent gap.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")

TEXT = {
    "en": {
        "title": "bptt explain: backpropagation through time, worked with real numbers",
        "cell_rnn": "a tanh RNN",
        "cell_lstm": "an LSTM",
        "cell_gru": "a GRU",
        "network": "The network: {cell} with {D} inputs, {H} hidden units and 1 output,\n"
        "run for {T} steps (seed {seed}), in float64:",
        "elementwise": "  (* multiplies element by element; W^T is W transposed)",
        "task": "The task: target_t is the first input of the previous step (0 at t = 0), "
        "so the network\nmust carry it in its hidden state from one step to the next.",
        "params": "The parameters, drawn at random. In the library they are called\n{names}.",
        "rows_by_gate": "Rows are grouped by gate ({gates}, PyTorch's order), {H} rows each.",
        "step1": "Step 1. Forward pass: run the steps in order, keep every h_t, add up the losses",
        "preact_title": "How each h_t is computed:",
        "gates_title": "The gates and the cell state at each step:",
        "gru_gates_title": "The gates at each step:",
        "step2": "Step 2. The error at the output: how much L changes when y_t changes",
        "step3": "Step 3. The error sent back through the hidden states, "
        "from the last step to the first",
        "two_ways": "  h_t reaches the loss in two ways: through y_t, and through step t+1, "
        "which is computed\n"
        "  from it. So the error at h_t is the sum of what comes back along both ways:",
        "last_step_note": "  At the last step nothing comes back from step {T}: that term is zero.",
        "cell_state_note": "  The cell state c_t carries an error of its own, "
        "passed back through the forget gate\n"
        "  (the term dc_{t+1} * f_{t+1}):",
        "gru_copy_note": "  h_{t+1} keeps the share z_{t+1} of h_t unchanged, "
        "so part of the error comes straight\n"
        "  back (the term dh_{t+1} * z_{t+1}):",
        "step4": "Step 4. Each step's contribution to the weight gradients, and their sum",
        "same_weights": "  The same weights are used at every step, so every step adds "
        "its own share:",
        "h_minus_1": "  (h_{-1} = 0, so step 0 adds nothing to dW_hh.)",
        "entry": "entry",
        "sum": "sum",
        "check": "Check: every gradient above against central finite differences\n"
        "  (L(p + e) - L(p - e)) / 2e with e = {eps:.0e}, one entry at a time",
        "max_rel": "max relative error",
        "ok": "OK",
        "failed": "FAILED",
        "step5": "Step 5. One step of gradient descent: p <- p - lr * dL/dp "
        "with learning rate lr = {lr:g}",
        "params_after": "The parameters after the step:",
        "forward_again": "The forward pass again, with the new parameters:",
        "lower": "L = {before:.4f} before the step and {after:.4f} after it: lower, as a small "
        "step against\nthe gradient should make it.",
        "not_lower": "L = {before:.4f} before the step and {after:.4f} after it: not lower; "
        "this learning rate\nis too large for this step (try a smaller --lr).",
    },
    "zh": {
        "title": "bptt explain：用真实的数字逐步演算随时间反向传播（BPTT）",
        "cell_rnn": "以 tanh 为激活函数的简单 RNN",
        "cell_lstm": "LSTM",
        "cell_gru": "GRU",
        "network": "网络：{cell}，{D} 个输入、{H} 个隐藏单元、1 个输出，\n"
        "按时间展开 {T} 步（随机种子 {seed}），以 float64 精度计算：",
        "elementwise": "  （* 表示逐元素相乘；W^T 表示 W 的转置）",
        "task": "任务：target_t 是上一步的第一个输入（t = 0 时为 0），"
        "所以网络必须把它存进隐藏状态，\n带到下一步。",
        "params": "参数由随机数初始化，它们在库中的名称是\n{names}。",
        "rows_by_gate": "各行按门分组（{gates}，与 PyTorch 的顺序相同），每个门 {H} 行。",
        "step1": "第 1 步　前向传播：按时间顺序逐步计算，保存每一步的 h_t，再把各步的损失相加",
        "preact_title": "每个 h_t 的计算过程：",
        "gates_title": "每一步的各个门和细胞状态：",
        "gru_gates_title": "每一步的各个门：",
        "step2": "第 2 步　输出端的误差：y_t 变化时，L 随之变化多少",
        "step3": "第 3 步　误差沿隐藏状态反向传递：从最后一步一直传回第一步",
        "two_ways": "  h_t 通过两条路径影响损失：一条经过 y_t，另一条经过用它算出的第 t+1 步。\n"
        "  所以 h_t 处的误差，等于沿这两条路径传回来的误差之和：",
        "last_step_note": "  最后一步之后没有第 {T} 步，从那里传回的一项为零。",
        "cell_state_note": "  细胞状态 c_t 也携带自己的误差，它经遗忘门传回上一步\n"
        "  （即 dc_{t+1} * f_{t+1} 这一项）：",
        "gru_copy_note": "  h_{t+1} 经更新门原样保留了 h_t 的 z_{t+1} 份额，"
        "所以有一部分误差直接传回\n"
        "  （即 dh_{t+1} * z_{t+1} 这一项）：",
        "step4": "第 4 步　每一步对权重梯度的贡献，以及它们的总和",
        "same_weights": "  每一步用的都是同一组权重，所以每一步都为梯度贡献自己的一份：",
        "h_minus_1": "  （h_{-1} = 0，所以第 0 步对 dW_hh 没有贡献。）",
        "entry": "元素",
        "sum": "总和",
        "check": "检验：用中心有限差分逐个元素核对上面的每一个梯度\n"
        "  (L(p + e) - L(p - e)) / 2e，其中 e = {eps:.0e}",
        "max_rel": "最大相对误差",
        "ok": "通过",
        "failed": "未通过",
        "step5": "第 5 步　一步梯度下降：p <- p - lr * dL/dp，学习率 lr = {lr:g}",
        "params_after": "更新后的参数：",
        "forward_again": "用新参数再做一次前向传播：",
        "lower": "更新前 L = {before:.4f}，更新后 L = {after:.4f}：损失下降了。"
        "沿梯度的反方向迈出一小步，\n损失理应下降。",
        "not_lower": "更新前 L = {before:.4f}，更新后 L = {after:.4f}：损失没有下降，"
        "说明对这一步而言学习率太大了\n（可以试试更小的 --lr）。",
    },
}
